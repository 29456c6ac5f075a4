/**
 * The Export Pipeline dialogs: the project folder, then what the export will write, then the export.
 *
 * The review (a dry run on the server) lists every file with its state (new,
 * changed, unchanged) and flags blocks whose name another block file of the
 * project has. When block files other pipelines use would change, the review
 * names them and offers Detach and export (`--detach`) or Overwrite shared
 * files (`--force`); otherwise it offers Export. Nothing is written before
 * the user chooses.
 */

import { Dialog, InputDialog, Notification, showDialog, showErrorMessage } from '@jupyterlab/apputils';
import { NotebookPanel } from '@jupyterlab/notebook';
import { Widget } from '@lumino/widgets';

import { ApiError, exportPipeline, reviewExport } from './api';
import {
  ExportOptions,
  ExportReview,
  conflictLines,
  exportSummary,
  fileCounts,
  fileLine,
  pipelinesOf,
  readReview,
  sameNameLines,
  sharedFilesRefusal
} from './exporting';

/** Ask for the project folder, show what the export writes, and export when the user agrees. */
export async function exportNotebook(panel: NotebookPanel): Promise<void> {
  const directory = panel.context.path.split('/').slice(0, -1).join('/');
  const answer = await InputDialog.getText({
    title: 'Export pipeline',
    label: 'Project folder (relative to the Jupyter root)',
    text: directory ? `${directory}/project` : 'project',
    okLabel: 'Export'
  });
  const project = answer.value?.trim();
  if (!answer.button.accept || !project) {
    return;
  }
  if (panel.context.model.dirty) {
    await panel.context.save();
  }
  const notebook = panel.context.path;
  let review: ExportReview;
  try {
    review = readReview(await reviewExport(notebook, project));
  } catch (error) {
    await showErrorMessage('Export failed', error instanceof Error ? error.message : String(error));
    return;
  }
  const options = await askToExport(project, review);
  if (!options) {
    return;
  }
  try {
    const result = await exportPipeline(notebook, project, options);
    Notification.success(exportSummary(result, notebook, project), { autoClose: 5000 });
  } catch (error) {
    const conflicts = error instanceof ApiError ? sharedFilesRefusal(error.status, error.body) : null;
    const message = conflicts
      ? `block files other pipelines use changed meanwhile: ${conflictLines(conflicts).join('; ')}`
      : error instanceof Error
        ? error.message
        : String(error);
    await showErrorMessage('Export failed', message);
  }
}

/** Show the review; the export's options when the user agrees, null when cancelled. */
async function askToExport(project: string, review: ExportReview): Promise<ExportOptions | null> {
  const body = new Widget();
  body.addClass('jp-BlocksExport-review');
  const conflicts = review.conflicts;
  if (conflicts.length) {
    const pipelines = pipelinesOf(conflicts);
    const named = `${pipelines.length === 1 ? 'pipeline' : 'pipelines'} ${pipelines.join(', ')}`;
    const section = document.createElement('div');
    section.className = 'jp-BlocksExport-conflicts';
    section.append(
      paragraph(`These block files in ${project} are used by ${named} with different content:`),
      list('jp-BlocksExport-conflictList', conflictLines(conflicts))
    );
    body.node.append(section);
  }
  const sameName = sameNameLines(review);
  if (sameName.length) {
    body.node.append(
      paragraph(
        'Mage knows a block by its name: these blocks have the name of another block of the project. ' +
          'Rename one of them unless they are meant to be the same block.',
        'jp-BlocksExport-warning'
      ),
      list('jp-BlocksExport-sameName', sameName)
    );
  }
  body.node.append(paragraph(`Files written to ${project} (${fileCounts(review.files)}):`), fileList(review));
  if (conflicts.length) {
    const pipelines = pipelinesOf(conflicts).join(', ');
    body.node.append(
      paragraph(
        'Detach writes this pipeline its own copies and leaves the shared files as they are. ' +
          `Overwrite replaces the shared files, which changes what ${pipelines} ${
            pipelinesOf(conflicts).length === 1 ? 'runs' : 'run'
          }.`
      )
    );
    const overwrite = Dialog.warnButton({ label: 'Overwrite shared files', className: 'jp-BlocksExport-force' });
    const detach = Dialog.okButton({ label: 'Detach and export', className: 'jp-BlocksExport-detach' });
    const answer = await showDialog({
      title: 'Block files shared with other pipelines',
      body,
      buttons: [Dialog.cancelButton(), overwrite, detach]
    });
    if (!answer.button.accept) {
      return null;
    }
    return answer.button.label === overwrite.label ? { force: true } : { detach: true };
  }
  const answer = await showDialog({
    title: `Export pipeline ${review.pipeline}`,
    body,
    buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Export', className: 'jp-BlocksExport-export' })]
  });
  return answer.button.accept ? {} : null;
}

function fileList(review: ExportReview): HTMLUListElement {
  const node = document.createElement('ul');
  node.className = 'jp-BlocksExport-files';
  for (const file of review.files) {
    const item = document.createElement('li');
    item.dataset.path = file.path;
    item.dataset.state = file.state;
    const path = document.createElement('span');
    path.className = 'jp-BlocksExport-path';
    path.textContent = fileLine(file);
    const state = document.createElement('span');
    state.className = 'jp-BlocksExport-state';
    state.textContent = file.state;
    item.append(path, state);
    node.append(item);
  }
  return node;
}

function paragraph(text: string, className?: string): HTMLParagraphElement {
  const node = document.createElement('p');
  node.textContent = text;
  if (className) {
    node.className = className;
  }
  return node;
}

function list(className: string, lines: string[]): HTMLUListElement {
  const node = document.createElement('ul');
  node.className = className;
  for (const line of lines) {
    const item = document.createElement('li');
    item.textContent = line;
    node.append(item);
  }
  return node;
}
