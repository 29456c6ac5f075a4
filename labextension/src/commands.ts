/**
 * Block commands: run a block with its upstreams, run it and its downstream,
 * run the pipeline, show a block in the graph, export the pipeline.
 *
 * Blocks run as cells, through JupyterLab, so outputs land in the cells. The
 * `%%block` magic runs stale upstreams itself; for downstream and pipeline
 * runs the order comes from the graph model.
 */

import { JupyterFrontEnd } from '@jupyterlab/application';
import {
  Dialog,
  ISessionContextDialogs,
  InputDialog,
  Notification,
  showDialog,
  showErrorMessage
} from '@jupyterlab/apputils';
import { Cell } from '@jupyterlab/cells';
import { INotebookTracker, NotebookActions, NotebookPanel } from '@jupyterlab/notebook';
import { Widget } from '@lumino/widgets';

import { ApiError, exportPipeline } from './api';
import {
  ExportOptions,
  SharedFileConflict,
  conflictLines,
  exportSummary,
  pipelinesOf,
  sharedFilesRefusal
} from './exporting';
import { dagIcon, exportIcon, runDownstreamIcon, runPipelineIcon, runUpstreamIcon } from './icons';
import { NotebookBlocksModel } from './model';
import { IBlocksRegistry } from './registry';

export namespace CommandIDs {
  export const runWithUpstreams = 'jupyter-blocks:run-with-upstreams';
  export const runDownstream = 'jupyter-blocks:run-downstream';
  export const runPipeline = 'jupyter-blocks:run-pipeline';
  export const showInDag = 'jupyter-blocks:show-in-dag';
  export const exportPipeline = 'jupyter-blocks:export';
  export const openDag = 'jupyter-blocks:open-dag';
  export const openRuns = 'jupyter-blocks:open-runs';
}

export interface CommandContext {
  app: JupyterFrontEnd;
  tracker: INotebookTracker;
  registry: IBlocksRegistry;
  sessionDialogs: ISessionContextDialogs | null;
  /** Reveal the graph panel and highlight a block. */
  showInDag: (model: NotebookBlocksModel | null, cellId: string | null) => void;
  /** Reveal the runs panel. */
  showRuns: () => void;
}

interface Target {
  panel: NotebookPanel;
  model: NotebookBlocksModel;
  /** The active cell's block name, when it is a valid block. */
  name: string | null;
  cellId: string | null;
}

export function addCommands(context: CommandContext): void {
  const { app, tracker, registry } = context;
  const { commands } = app;

  const target = (): Target | null => {
    const panel = tracker.currentWidget;
    const model = registry.modelFor(panel);
    if (!panel || !model) {
      return null;
    }
    const cellId = panel.content.activeCell?.model.id ?? null;
    const name = cellId ? model.graph.nameOfCell(cellId) : null;
    return { panel, model, name, cellId };
  };
  const onBlock = () => !!target()?.name;
  const hasBlocks = () => (target()?.model.graph.nodes.length ?? 0) > 0;

  const run = async (t: Target, names: string[]): Promise<boolean> => {
    const byId = new Map<string, Cell>(t.panel.content.widgets.map(cell => [cell.model.id, cell]));
    const blockCells = names
      .map(n => byId.get(t.model.graph.byName(n)?.cellId ?? ''))
      .filter((cell): cell is Cell => !!cell);
    if (!blockCells.length) {
      return false;
    }
    // A kernel without the extension loaded cannot run %%block: run the setup cells first.
    const cells = t.model.link.connected ? blockCells : [...setupCells(t.panel), ...blockCells];
    return NotebookActions.runCells(
      t.panel.content,
      cells,
      t.panel.sessionContext,
      context.sessionDialogs ?? undefined
    );
  };

  /** Show the graph's problems and refuse to run; `names` limits them to those blocks (all when null). */
  const refuseIfBroken = async (t: Target, names: string[] | null): Promise<boolean> => {
    const involved = new Set(names?.map(n => t.model.graph.byName(n)?.cellId));
    const problems = t.model.graph.problems.filter(
      p => names === null || p.cellIds.some(id => involved.has(id)) || p.names.some(n => names.includes(n))
    );
    if (problems.length) {
      await showErrorMessage(
        'Pipeline has errors',
        `Fix these first:\n${problems.map(p => `• ${p.message}`).join('\n')}`,
        [Dialog.okButton()]
      );
      return true;
    }
    return false;
  };

  commands.addCommand(CommandIDs.runWithUpstreams, {
    label: 'Run Block with Upstreams',
    caption: 'Run this block; stale upstream blocks run first',
    icon: runUpstreamIcon,
    isEnabled: onBlock,
    isVisible: onBlock,
    execute: async () => {
      const t = target();
      if (t?.name) {
        await run(t, [t.name]);
      }
    }
  });

  commands.addCommand(CommandIDs.runDownstream, {
    label: 'Run Block and Downstream',
    caption: 'Run this block, then every block downstream of it in order',
    icon: runDownstreamIcon,
    isEnabled: onBlock,
    isVisible: onBlock,
    execute: async () => {
      const t = target();
      if (!t?.name) {
        return;
      }
      const names = [t.name, ...t.model.graph.downstreamOf(t.name)];
      if (!(await refuseIfBroken(t, names))) {
        await run(t, names);
      }
    }
  });

  commands.addCommand(CommandIDs.runPipeline, {
    label: 'Run Pipeline',
    caption: 'Run every block of this notebook in dependency order',
    icon: runPipelineIcon,
    isEnabled: hasBlocks,
    execute: async () => {
      const t = target();
      if (!t) {
        return;
      }
      const names = t.model.graph.topologicalOrder();
      if (!(await refuseIfBroken(t, null))) {
        await run(t, names);
      }
    }
  });

  commands.addCommand(CommandIDs.showInDag, {
    label: 'Show Block in DAG',
    caption: 'Reveal the pipeline graph and highlight this block',
    icon: dagIcon,
    isEnabled: () => !!target(),
    isVisible: onBlock,
    execute: () => {
      const t = target();
      if (t) {
        context.showInDag(t.model, t.name ? t.cellId : null);
      }
    }
  });

  commands.addCommand(CommandIDs.openDag, {
    label: 'Show Pipeline DAG',
    icon: dagIcon,
    execute: () => {
      context.showInDag(target()?.model ?? null, null);
    }
  });

  commands.addCommand(CommandIDs.openRuns, {
    label: 'Show Pipeline Runs',
    execute: () => context.showRuns()
  });

  commands.addCommand(CommandIDs.exportPipeline, {
    label: 'Export Pipeline…',
    caption: 'Write this notebook as a pipeline (metadata.yaml and block files) into a project folder',
    icon: exportIcon,
    isEnabled: hasBlocks,
    execute: async () => {
      const t = target();
      if (!t) {
        return;
      }
      const directory = t.panel.context.path.split('/').slice(0, -1).join('/');
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
      if (t.panel.context.model.dirty) {
        await t.panel.context.save();
      }
      const notebook = t.panel.context.path;
      let options: ExportOptions = {};
      for (;;) {
        try {
          const result = await exportPipeline(notebook, project, options);
          Notification.success(exportSummary(result, notebook, project), { autoClose: 5000 });
          return;
        } catch (error) {
          const conflicts = error instanceof ApiError ? sharedFilesRefusal(error.status, error.body) : null;
          if (conflicts && !options.detach && !options.force) {
            const choice = await askAboutSharedFiles(project, conflicts);
            if (choice) {
              options = choice;
              continue;
            }
            return;
          }
          await showErrorMessage('Export failed', error instanceof Error ? error.message : String(error));
          return;
        }
      }
    }
  });
}

/**
 * The export was refused over block files other pipelines share: name them and
 * offer `--detach` (the default button) or `--force`; null when cancelled.
 */
async function askAboutSharedFiles(project: string, conflicts: SharedFileConflict[]): Promise<ExportOptions | null> {
  const pipelines = pipelinesOf(conflicts);
  const body = new Widget();
  body.addClass('jp-BlocksExport-conflicts');
  const intro = document.createElement('p');
  intro.textContent =
    `These block files in ${project} are used by ` +
    `${pipelines.length === 1 ? 'pipeline' : 'pipelines'} ${pipelines.join(', ')} with different content:`;
  const list = document.createElement('ul');
  for (const line of conflictLines(conflicts)) {
    const item = document.createElement('li');
    item.textContent = line;
    list.append(item);
  }
  const choices = document.createElement('p');
  choices.textContent =
    'Detach writes this pipeline its own copies and leaves the shared files as they are. ' +
    `Overwrite replaces the shared files, which changes what ${pipelines.join(', ')} ${
      pipelines.length === 1 ? 'runs' : 'run'
    }.`;
  body.node.append(intro, list, choices);
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

/** Cells that prepare the kernel for blocks: `%load_ext jupyter_blocks` and the `parameters` cell. */
function setupCells(panel: NotebookPanel): Cell[] {
  return panel.content.widgets.filter(cell => {
    if (cell.model.type !== 'code') {
      return false;
    }
    const source = cell.model.sharedModel.getSource();
    const tags = cell.model.getMetadata('tags');
    return (
      /^\s*%(load_ext|reload_ext)\s+jupyter_blocks\b/m.test(source) ||
      (Array.isArray(tags) && tags.includes('parameters'))
    );
  });
}
