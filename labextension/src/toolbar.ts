/**
 * The notebook toolbar's Run Pipeline button, shown while the notebook has block cells.
 */

import { JupyterFrontEnd } from '@jupyterlab/application';
import { CommandToolbarButton } from '@jupyterlab/ui-components';
import { IDisposable } from '@lumino/disposable';

import { CommandIDs } from './ids';
import { NotebookBlocksModel } from './model';

export const RUN_PIPELINE_BUTTON = 'jupyter-blocks-run-pipeline';

export class RunPipelineButton implements IDisposable {
  constructor(
    private readonly _model: NotebookBlocksModel,
    commands: JupyterFrontEnd['commands']
  ) {
    this._button = new CommandToolbarButton({
      commands,
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
    if (hidden !== this._button.isHidden) {
      this._button.setHidden(hidden);
    }
  }

  private _button: CommandToolbarButton;
}
