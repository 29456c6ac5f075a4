/**
 * Block commands: run a block with its upstreams, run it and its downstream,
 * run the pipeline, show a block in the graph, export the pipeline.
 *
 * A block runs as its cell, through JupyterLab, so its output lands in the
 * cell; the `%%block` magic runs stale upstreams itself, with the code on
 * screen (the model syncs every cell before an execution). Run Block and
 * Downstream runs the cells in the graph's order. Run Pipeline is one run of
 * every block, as headless: one `%blocks run --all` in the kernel, its
 * progress on the badges and the graph, its result in a notification and in
 * the Runs panel. Commands take an optional `notebook` (panel id) and `cell`
 * (cell id) argument, for the toolbar and the graph panel.
 */

import { JupyterFrontEnd } from '@jupyterlab/application';
import { Dialog, ISessionContextDialogs, Notification, showErrorMessage } from '@jupyterlab/apputils';
import { Cell } from '@jupyterlab/cells';
import { INotebookTracker, NotebookActions, NotebookPanel } from '@jupyterlab/notebook';
import { ReadonlyPartialJSONObject } from '@lumino/coreutils';

import { exportNotebook } from './exportdialog';
import { dagIcon, exportIcon, runDownstreamIcon, runPipelineIcon, runUpstreamIcon } from './icons';
import { CommandIDs } from './ids';
import { NotebookBlocksModel } from './model';
import { IBlocksRegistry } from './registry';

export { CommandIDs } from './ids';

/** The kernel command of Run Pipeline: the whole pipeline as one run. */
export const RUN_PIPELINE_CODE = '%blocks run --all';

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

  const target = (args: ReadonlyPartialJSONObject = {}): Target | null => {
    const model =
      typeof args.notebook === 'string' ? registry.modelById(args.notebook) : registry.modelFor(tracker.currentWidget);
    const panel = model?.panel ?? null;
    if (!panel || !model || model.isDisposed) {
      return null;
    }
    const cellId = typeof args.cell === 'string' ? args.cell : panel.content.activeCell?.model.id ?? null;
    const name = cellId ? model.graph.nameOfCell(cellId) : null;
    return { panel, model, name, cellId };
  };
  const onBlock = (args: ReadonlyPartialJSONObject) => !!target(args)?.name;
  const hasBlocks = (args: ReadonlyPartialJSONObject) => (target(args)?.model.graph.nodes.length ?? 0) > 0;

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
    t.model.flushSync();
    return NotebookActions.runCells(
      t.panel.content,
      cells,
      t.panel.sessionContext,
      context.sessionDialogs ?? undefined
    );
  };

  /** The whole pipeline as one run (`%blocks run --all`), as a headless run is. */
  const runPipeline = async (t: Target): Promise<void> => {
    const name = t.panel.context.localPath.split('/').pop() ?? '';
    // Its progress is on the badges and the graph (queued, running); one notification says how it
    // ended. (Updating an in-progress notification can lose the update while its toast is still
    // being created.)
    const actions = [{ label: 'Show runs', callback: () => context.showRuns() }];
    const failed = (why: string) =>
      Notification.error(`The pipeline of ${name} failed: ${why}`, { autoClose: false, actions });
    try {
      if (!t.model.link.connected) {
        const setup = setupCells(t.panel).filter(cell => LOADS.test(cell.model.sharedModel.getSource()));
        if (setup.length) {
          await NotebookActions.runCells(t.panel.content, setup, t.panel.sessionContext, context.sessionDialogs ?? undefined);
        }
      }
      t.model.flushSync();
      const result = await t.model.link.execute(RUN_PIPELINE_CODE);
      if (result.status === 'ok') {
        Notification.success(`Ran the pipeline of ${name}`, { autoClose: 5000, actions });
      } else {
        failed([result.ename, result.evalue].filter(Boolean).join(': ') || result.status);
      }
    } catch (error) {
      failed(error instanceof Error ? error.message : String(error));
    }
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
    execute: async args => {
      const t = target(args);
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
    execute: async args => {
      const t = target(args);
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
    caption: 'Run every block of this notebook as one pipeline run, as headless',
    icon: runPipelineIcon,
    isEnabled: hasBlocks,
    execute: async args => {
      const t = target(args);
      if (t && !(await refuseIfBroken(t, null))) {
        await runPipeline(t);
      }
    }
  });

  commands.addCommand(CommandIDs.showInDag, {
    label: 'Show Block in DAG',
    caption: 'Reveal the pipeline graph and highlight this block',
    icon: dagIcon,
    isEnabled: args => !!target(args),
    isVisible: onBlock,
    execute: args => {
      const t = target(args);
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
    execute: async args => {
      const t = target(args);
      if (t) {
        await exportNotebook(t.panel);
      }
    }
  });
}

const LOADS = /^\s*%(load_ext|reload_ext)\s+jupyter_blocks\b/m;

/** Cells that prepare the kernel for blocks: `%load_ext jupyter_blocks` and the `parameters` cell. */
function setupCells(panel: NotebookPanel): Cell[] {
  return panel.content.widgets.filter(cell => {
    if (cell.model.type !== 'code') {
      return false;
    }
    const source = cell.model.sharedModel.getSource();
    const tags = cell.model.getMetadata('tags');
    return LOADS.test(source) || (Array.isArray(tags) && tags.includes('parameters'));
  });
}
