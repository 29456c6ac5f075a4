/**
 * The notebook toolbar's Run Pipeline button, shown while the notebook has block cells.
 */

import { JupyterFrontEnd } from '@jupyterlab/application';
import { CommandToolbarButton } from '@jupyterlab/ui-components';
import { IDisposable } from '@lumino/disposable';

import { CommandIDs } from './ids';
import { NotebookBlocksModel } from './model';

export const RUN_PIPELINE_BUTTON = 'jupyter-blocks-run-pipeline';
const HIDDEN_CLASS = 'jp-mod-noBlocks';

export class RunPipelineButton implements IDisposable {
  constructor(
    private readonly _model: NotebookBlocksModel,
    private readonly _commands: JupyterFrontEnd['commands']
  ) {
    this._button = new CommandToolbarButton({
      commands: _commands,
      id: CommandIDs.runPipeline,
      args: { notebook: _model.panel.id },
      label: 'Run Pipeline'
    });
    this._button.addClass('jp-BlocksRunPipelineButton');
    const toolbar = _model.panel.toolbar;
    if (!toolbar.insertAfter('cellType', RUN_PIPELINE_BUTTON, this._button)) {
      toolbar.addItem(RUN_PIPELINE_BUTTON, this._button);
    }
    _model.changed.connect(this._update, this);
    this._update();
    _commands.notifyCommandChanged(CommandIDs.runPipeline);
  }

  get isDisposed(): boolean {
    return this._button.isDisposed;
  }

  dispose(): void {
    if (this.isDisposed) {
      return;
    }
    this._model.changed.disconnect(this._update, this);
    this._button.dispose();
  }

  private _update(): void {
    const hidden = this._model.graph.nodes.length === 0;
    // A class, not Widget.hide(): the notebook's reactive toolbar shows its items again when it
    // lays them out.
    if (hidden !== this._button.hasClass(HIDDEN_CLASS)) {
      this._button.toggleClass(HIDDEN_CLASS, hidden);
      // The button asks the command whether it is enabled only when told it changed.
      this._commands.notifyCommandChanged(CommandIDs.runPipeline);
    }
  }

  private _button: CommandToolbarButton;
}
