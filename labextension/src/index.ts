/**
 * Plugin wiring only; the logic lives in the modules imported here.
 */

import { ILayoutRestorer, JupyterFrontEnd, JupyterFrontEndPlugin } from '@jupyterlab/application';
import { ICommandPalette, ISessionContextDialogs } from '@jupyterlab/apputils';
import { INotebookTracker } from '@jupyterlab/notebook';
import { ISettingRegistry } from '@jupyterlab/settingregistry';

import { CommandIDs, addCommands } from './commands';
import { DagPanel } from './dag';
import { dagIcon, runsIcon } from './icons';
import { NotebookBlocksModel } from './model';
import { BlocksRegistry, BlocksSettings, DEFAULT_SETTINGS, IBlocksRegistry } from './registry';
import { RunsPanel } from './runs';

const PLUGIN_ID = 'jupyter-blocks:plugin';

function readSettings(settings: ISettingRegistry.ISettings | null): BlocksSettings {
  return { ...DEFAULT_SETTINGS, ...((settings?.composite ?? {}) as Partial<BlocksSettings>) };
}

/** Block models and badges for every notebook, configured from schema/plugin.json. */
const notebookPlugin: JupyterFrontEndPlugin<IBlocksRegistry> = {
  id: PLUGIN_ID,
  description: 'Block badges and the per-notebook block model.',
  autoStart: true,
  requires: [INotebookTracker],
  optional: [ISettingRegistry],
  provides: IBlocksRegistry,
  activate: (app: JupyterFrontEnd, _tracker: INotebookTracker, settingRegistry: ISettingRegistry | null) => {
    const registry = new BlocksRegistry(app.commands);
    app.docRegistry.addWidgetExtension('Notebook', registry);
    if (settingRegistry) {
      void settingRegistry.load(PLUGIN_ID).then(settings => {
        registry.settings = readSettings(settings);
        settings.changed.connect(() => (registry.settings = readSettings(settings)));
      });
    }
    return registry;
  }
};

/** The DAG and Runs side panels and the block commands. */
const panelsPlugin: JupyterFrontEndPlugin<void> = {
  id: 'jupyter-blocks:panels',
  description: 'The pipeline DAG panel, the Runs panel and the block commands.',
  autoStart: true,
  requires: [IBlocksRegistry, INotebookTracker],
  optional: [ICommandPalette, ISessionContextDialogs, ILayoutRestorer, ISettingRegistry],
  activate: (
    app: JupyterFrontEnd,
    registry: IBlocksRegistry,
    tracker: INotebookTracker,
    palette: ICommandPalette | null,
    sessionDialogs: ISessionContextDialogs | null,
    restorer: ILayoutRestorer | null,
    settingRegistry: ISettingRegistry | null
  ) => {
    const revealCell = (model: NotebookBlocksModel, cellId: string) => {
      app.shell.activateById(model.panel.id);
      void model.revealCell(cellId);
    };

    const run = (model: NotebookBlocksModel, cellId: string | null) => {
      const notebook = model.panel.id;
      void (cellId
        ? app.commands.execute(CommandIDs.runWithUpstreams, { notebook, cell: cellId })
        : app.commands.execute(CommandIDs.runPipeline, { notebook }));
    };
    const dag = new DagPanel({ revealCell, run });
    dag.id = 'jupyter-blocks-dag';
    dag.title.icon = dagIcon;
    dag.title.caption = 'Pipeline DAG';
    app.shell.add(dag, 'right', { rank: 600 });

    const runs = new RunsPanel();
    runs.id = 'jupyter-blocks-runs';
    runs.title.icon = runsIcon;
    runs.title.caption = 'Pipeline runs';
    app.shell.add(runs, 'right', { rank: 610 });

    if (restorer) {
      restorer.add(dag, dag.id);
      restorer.add(runs, runs.id);
    }

    const follow = () => {
      const model = registry.modelFor(tracker.currentWidget);
      dag.model = model;
      runs.model = model;
    };
    tracker.currentChanged.connect(follow);
    // The model is created with the panel; the tracker may announce the panel first.
    tracker.widgetAdded.connect((_, panel) => void panel.context.ready.then(follow));
    follow();

    if (settingRegistry) {
      void settingRegistry.load(PLUGIN_ID).then(settings => {
        const apply = () => {
          const values = readSettings(settings);
          dag.direction = values.graphDirection;
          runs.limit = values.runsLimit;
          runs.logsLimitKiB = values.logsLimitKiB;
        };
        apply();
        settings.changed.connect(apply);
      });
    }

    const showInDag = (model: NotebookBlocksModel | null, cellId: string | null) => {
      app.shell.activateById(dag.id);
      if (model && cellId) {
        dag.highlight(cellId);
      }
    };
    registry.onBadgeClick = (model, cellId) => showInDag(model, cellId);

    addCommands({
      app,
      tracker,
      registry,
      sessionDialogs,
      showInDag,
      showRuns: () => app.shell.activateById(runs.id)
    });

    if (palette) {
      const category = 'Pipeline Blocks';
      for (const command of [
        CommandIDs.runWithUpstreams,
        CommandIDs.runDownstream,
        CommandIDs.runPipeline,
        CommandIDs.showInDag,
        CommandIDs.exportPipeline,
        CommandIDs.openDag,
        CommandIDs.openRuns
      ]) {
        palette.addItem({ command, category });
      }
    }
  }
};

export default [notebookPlugin, panelsPlugin];
