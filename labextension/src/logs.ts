/**
 * What the Runs panel shows of a block's captured output (pure, unit tested).
 *
 * The server sends the end of the output (`GET /jupyter-blocks/runs/<id>/logs/<block>`)
 * with known secrets hidden; these helpers turn its answer into the text, the
 * empty state and the note saying what was cut.
 */

/** The server's answer for one block's logs in one run. */
export interface BlockLogs {
  run_id: string;
  block: string;
  /** The end of the captured output, whole lines, secrets shown as `***`. */
  text: string;
  /** Whether `text` is only the end of it. */
  truncated: boolean;
  /** Size of the whole output, and of `text`, in UTF-8 bytes. */
  bytes: number;
  shown_bytes: number;
  /** The CLI command that prints all of it. */
  command: string;
}

export interface LogsView {
  kind: 'text' | 'empty';
  /** The output, or the empty-state message. */
  text: string;
  /** Set when the output was cut: how much is shown and how to see all of it. */
  note: string | null;
}

const UNITS = ['KiB', 'MiB', 'GiB'];

/** `512 B`, `1.5 KiB`, `64 KiB`, `5.3 MiB`. */
export function formatBytes(bytes: number): string {
  if (bytes < 1024) {
    return `${bytes} B`;
  }
  let value = bytes;
  let unit = '';
  for (const next of UNITS) {
    value /= 1024;
    unit = next;
    if (value < 1024) {
      break;
    }
  }
  const rounded = value < 10 ? Math.round(value * 10) / 10 : Math.round(value);
  return `${rounded} ${unit}`;
}

export function logsView(logs: BlockLogs): LogsView {
  const text = typeof logs.text === 'string' ? logs.text : '';
  if (!text.trim() && !logs.truncated) {
    return { kind: 'empty', text: 'No output captured.', note: null };
  }
  let note: string | null = null;
  if (logs.truncated) {
    const shown = formatBytes(logs.shown_bytes ?? new TextEncoder().encode(text).length);
    const all = typeof logs.bytes === 'number' ? ` of ${formatBytes(logs.bytes)}` : '';
    const command = logs.command ? ` All of it: ${logs.command}` : '';
    note = `Showing the last ${shown}${all}.${command}`;
  }
  return { kind: 'text', text, note };
}

/**
 * The text of a block row's button in the Logs column: the output's size when
 * the run detail has it (short, for a narrow side panel).
 */
export function logsButtonLabel(outputBytes: number | null | undefined): string {
  if (typeof outputBytes !== 'number') {
    return 'show';
  }
  return outputBytes === 0 ? 'none' : formatBytes(outputBytes);
}
