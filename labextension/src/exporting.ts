/**
 * The export dialog's reading of the server's answers (pure, unit tested).
 *
 * Before writing, the dialog asks for a dry run (`dry_run: true`): the files
 * the export writes with their state (new, changed, unchanged, the
 * pipeline's own copies), the block files other pipelines use with different
 * content, and blocks whose name another block file of the project has (Mage
 * knows a block by its name). `POST /jupyter-blocks/export` itself refuses
 * with 409 and `reason: shared_block_files` when block files other pipelines
 * use would change; the dialog then names them and offers
 * `jupyter-blocks export`'s `--detach` and `--force`.
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

/** A file the export writes. */
export interface PlannedFile {
  path: string;
  state: 'new' | 'changed' | 'unchanged';
  /** The pipeline's own copy of a shared block file (`--detach`). */
  detached: boolean;
}

/** A block whose name other block files of the project have. */
export interface SameNameBlock {
  block: string;
  path: string;
  others: SharedFileConflict[];
}

/** The dry run's answer. */
export interface ExportReview {
  pipeline: string;
  files: PlannedFile[];
  conflicts: SharedFileConflict[];
  same_name: SameNameBlock[];
}

const STATES = new Set(['new', 'changed', 'unchanged']);

/** The review in a dry run's answer, with anything malformed left out. */
export function readReview(body: unknown): ExportReview {
  const data = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
  const list = (value: unknown): any[] => (Array.isArray(value) ? value.filter(v => v && typeof v === 'object') : []);
  const strings = (value: unknown): string[] => (Array.isArray(value) ? value.filter(v => typeof v === 'string') : []);
  return {
    pipeline: typeof data.pipeline === 'string' ? data.pipeline : '',
    files: list(data.files)
      .filter(f => typeof f.path === 'string' && STATES.has(f.state))
      .map(f => ({ path: f.path, state: f.state, detached: f.detached === true })),
    conflicts: list(data.conflicts)
      .filter(c => typeof c.path === 'string')
      .map(c => ({ path: c.path, pipelines: strings(c.pipelines) })),
    same_name: list(data.same_name)
      .filter(b => typeof b.block === 'string' && typeof b.path === 'string')
      .map(b => ({
        block: b.block,
        path: b.path,
        others: list(b.others)
          .filter(o => typeof o.path === 'string')
          .map(o => ({ path: o.path, pipelines: strings(o.pipelines) }))
      }))
  };
}

/** `data_loaders/load.py`, with `(own copy)` for a detached one; its state is shown beside it. */
export function fileLine(file: PlannedFile): string {
  return file.detached ? `${file.path} (own copy)` : file.path;
}

/** `2 new, 1 changed, 3 unchanged`. */
export function fileCounts(files: readonly PlannedFile[]): string {
  return (['new', 'changed', 'unchanged'] as const)
    .map(state => [state, files.filter(f => f.state === state).length] as const)
    .filter(([, count]) => count > 0)
    .map(([state, count]) => `${count} ${state}`)
    .join(', ');
}

/** One line per block sharing its name with other block files of the project. */
export function sameNameLines(review: ExportReview): string[] {
  return review.same_name.map(same => {
    const others = same.others
      .map(o => (o.pipelines.length ? `${o.path} (used by ${o.pipelines.join(', ')})` : o.path))
      .join(' and ');
    return `${same.block}: ${same.path} would sit beside ${others}, another block named ${same.block}`;
  });
}
