/**
 * Requests to the jupyter-blocks server extension (`jupyter_blocks/server/`).
 */

import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

import { ExportOptions, ExportReview } from './exporting';
import { BlockLogs } from './logs';
import { ScheduleListing } from './schedule';

/** A pipeline run as the run store lists it; fields beyond these are shown when present. */
export interface RunSummary {
  run_id: string;
  pipeline?: string | null;
  status?: string | null;
  /** What started it: the cell or `%blocks` line of a notebook run, `manual` for the CLI. */
  trigger?: string | null;
  /** Its block runs (the list carries them without logs and tracebacks). */
  blocks?: BlockRun[];
  started_at?: string | null;
  finished_at?: string | null;
  seconds?: number | null;
  [key: string]: unknown;
}

export interface BlockRun {
  block: string;
  status?: string | null;
  seconds?: number | null;
  rows?: number | null;
  cols?: number | null;
  attempt?: number | null;
  error?: string | null;
  /** Size of the captured output; the logs endpoint serves the text. */
  output_bytes?: number | null;
  [key: string]: unknown;
}

export interface RunDetail extends RunSummary {
  blocks: BlockRun[];
}

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    /** The reply's JSON body, when it had one. */
    readonly body: unknown = null
  ) {
    super(message);
  }
}

async function request<T>(path: string, init: RequestInit = {}): Promise<T> {
  const settings = ServerConnection.makeSettings();
  const url = URLExt.join(settings.baseUrl, 'jupyter-blocks', path);
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(url, init, settings);
  } catch (error) {
    throw new ApiError(`the server did not answer: ${error}`, 0);
  }
  const text = await response.text();
  let body: any = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (!response.ok) {
    const message = body?.message || body?.reason || response.statusText || `HTTP ${response.status}`;
    throw new ApiError(message, response.status, body);
  }
  return body as T;
}

export function listRuns(notebookPath: string, limit: number): Promise<{ runs: RunSummary[] }> {
  const query = URLExt.objectToQueryString({ path: notebookPath, limit: String(limit) });
  return request(`runs${query}`);
}

export function getRun(notebookPath: string, runId: string): Promise<RunDetail> {
  const query = URLExt.objectToQueryString({ path: notebookPath });
  return request(`runs/${encodeURIComponent(runId)}${query}`);
}

/** The end of what a block printed and logged in a run (at most `limitBytes`), secrets hidden. */
export function getBlockLogs(
  notebookPath: string,
  runId: string,
  block: string,
  limitBytes?: number
): Promise<BlockLogs> {
  const query = URLExt.objectToQueryString(
    limitBytes ? { path: notebookPath, limit: String(limitBytes) } : { path: notebookPath }
  );
  return request(`runs/${encodeURIComponent(runId)}/logs/${encodeURIComponent(block)}${query}`);
}

/** The saved notebook's triggers (next fire time, last run) and backfills (intervals by status). */
export function getSchedule(notebookPath: string): Promise<ScheduleListing> {
  const query = URLExt.objectToQueryString({ path: notebookPath });
  return request(`schedule${query}`);
}

export function exportPipeline(
  notebookPath: string,
  project: string,
  options: ExportOptions = {}
): Promise<Record<string, unknown>> {
  return request('export', {
    method: 'POST',
    body: JSON.stringify({ path: notebookPath, project, ...options })
  });
}

/** What exporting would write (nothing is written). */
export function reviewExport(notebookPath: string, project: string, options: ExportOptions = {}): Promise<ExportReview> {
  return request('export', {
    method: 'POST',
    body: JSON.stringify({ path: notebookPath, project, ...options, dry_run: true })
  });
}
