/**
 * The export dialog's reading of the server's answers (pure, unit tested).
 *
 * `POST /jupyter-blocks/export` refuses with 409 and `reason: shared_block_files`
 * when block files other pipelines use would change; the dialog then names them
 * and offers `jupyter-blocks export`'s `--detach` and `--force`.
 */

/** A block file other pipelines use with different content. */
export interface SharedFileConflict {
  /** Relative to the project. */
  path: string;
  pipelines: string[];
}

/** `jupyter-blocks export`'s flags; at most one of them. */
export interface ExportOptions {
  detach?: boolean;
  force?: boolean;
}

/** The conflicts of a shared-file refusal; null for any other failure. */
export function sharedFilesRefusal(status: number, body: unknown): SharedFileConflict[] | null {
  if (status !== 409 || !body || typeof body !== 'object') {
    return null;
  }
  const { reason, conflicts } = body as { reason?: unknown; conflicts?: unknown };
  if (reason !== 'shared_block_files' || !Array.isArray(conflicts)) {
    return null;
  }
  const found: SharedFileConflict[] = [];
  for (const item of conflicts) {
    if (!item || typeof item !== 'object' || typeof item.path !== 'string') {
      continue;
    }
    const pipelines = Array.isArray(item.pipelines)
      ? item.pipelines.filter((p: unknown): p is string => typeof p === 'string')
      : [];
    found.push({ path: item.path, pipelines });
  }
  return found.length ? found : null;
}

/** One line per file: `data_loaders/load.py: used by fan, nightly`. */
export function conflictLines(conflicts: SharedFileConflict[]): string[] {
  return conflicts.map(c => (c.pipelines.length ? `${c.path}: used by ${c.pipelines.join(', ')}` : c.path));
}

/** Every pipeline named in the conflicts, once, sorted. */
export function pipelinesOf(conflicts: SharedFileConflict[]): string[] {
  return [...new Set(conflicts.flatMap(c => c.pipelines))].sort();
}

/** The success message: counts when the server gave them, and the detached copies. */
export function exportSummary(result: Record<string, unknown> | null, notebook: string, project: string): string {
  const list = (key: string): string[] | null => {
    const value = result?.[key];
    return Array.isArray(value) ? value.map(String) : null;
  };
  const written = list('written');
  const unchanged = list('unchanged');
  const detached = list('detached');
  let message = `Exported ${notebook} to ${project}`;
  if (written) {
    message += ` (${written.length} written, ${unchanged?.length ?? 0} unchanged)`;
  }
  if (detached?.length) {
    message += `; own copies: ${detached.join(', ')}`;
  }
  return message;
}
