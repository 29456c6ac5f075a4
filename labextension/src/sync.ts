/**
 * The `sync` message: every code cell of the notebook as it is on screen (pure, unit tested).
 *
 * The kernel runs what it was last sent, so the message carries every code
 * cell, saved or not: block cells (the kernel's DAG), the `parameters` cell
 * (its tags say which) and scratch cells (their imports). `index` is the
 * cell's position among all the notebook's cells, markdown included, so the
 * kernel names a cell as the notebook shows it (`cell 5`).
 */

/** A notebook cell as the model reads it. */
export interface NotebookCell {
  id: string;
  type: string;
  source: string;
  tags: string[];
}

export interface SyncCell {
  cell_id: string;
  source: string;
  tags: string[];
  index: number;
}

export interface SyncMessage {
  type: 'sync';
  /** The notebook's path under the server's root (the kernel finds its file by it). */
  path?: string;
  cells: SyncCell[];
}

export function syncMessage(cells: readonly NotebookCell[], path?: string): SyncMessage {
  const synced: SyncCell[] = [];
  cells.forEach((cell, index) => {
    if (cell.type === 'code') {
      synced.push({ cell_id: cell.id, source: cell.source, tags: [...cell.tags], index });
    }
  });
  return path ? { type: 'sync', path, cells: synced } : { type: 'sync', cells: synced };
}

/** `cell 5`: how the kernel, the CLI and the DAG name the cell at `index` (0-based). */
export function cellLabel(index: number): string {
  return `cell ${index + 1}`;
}
