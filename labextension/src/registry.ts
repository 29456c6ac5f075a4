/**
 * One `NotebookBlocksModel` (and its badges) per open notebook.
 *
 * Registered as a notebook widget extension: a model (with its badges and its
 * toolbar button) is created with each notebook panel and disposed with it,
 * which disconnects all its signals.
 */

import { JupyterFrontEnd } from '@jupyterlab/application';
import { DocumentRegistry } from '@jupyterlab/docregistry';
import { INotebookModel, NotebookPanel } from '@jupyterlab/notebook';
import { Token } from '@lumino/coreutils';
import { DisposableDelegate, IDisposable } from '@lumino/disposable';

import { BadgeView } from './badges';
import { NotebookBlocksModel } from './model';
import { RunPipelineButton } from './toolbar';

export interface BlocksSettings {
  showBadges: boolean;
  syncDelay: number;
  loadExtension: boolean;
  graphDirection: 'TB' | 'LR';
  runsLimit: number;
  logsLimitKiB: number;
}

export const DEFAULT_SETTINGS: BlocksSettings = {
  showBadges: true,
  syncDelay: 300,
  loadExtension: true,
  graphDirection: 'TB',
  runsLimit: 50,
  logsLimitKiB: 64
};

export interface IBlocksRegistry {
  modelFor(panel: NotebookPanel | null): NotebookBlocksModel | null;
  modelById(panelId: string): NotebookBlocksModel | null;
  settings: BlocksSettings;
  /** What a badge click does (set by the graph panel plugin). */
  onBadgeClick: (model: NotebookBlocksModel, cellId: string) => void;
}

export const IBlocksRegistry = new Token<IBlocksRegistry>(
  'jupyter-blocks:registry',
  'The per-notebook block models of jupyter-blocks.'
);

export class BlocksRegistry
  implements IBlocksRegistry, DocumentRegistry.IWidgetExtension<NotebookPanel, INotebookModel>
{
  constructor(private readonly _commands: JupyterFrontEnd['commands']) {}

  createNew(panel: NotebookPanel): IDisposable {
    const model = new NotebookBlocksModel(panel, {
      syncDelay: this._settings.syncDelay,
      loadExtension: this._settings.loadExtension
    });
    const badges = new BadgeView(model, cellId => this.onBadgeClick(model, cellId));
    badges.enabled = this._settings.showBadges;
    const button = new RunPipelineButton(model, this._commands);
    this._models.set(panel, { model, badges });
    const dispose = () => {
      button.dispose();
      badges.dispose();
      model.dispose();
      this._models.delete(panel);
    };
    panel.disposed.connect(dispose);
    return new DisposableDelegate(dispose);
  }

  modelFor(panel: NotebookPanel | null): NotebookBlocksModel | null {
    return (panel && this._models.get(panel)?.model) || null;
  }

  /** The model of the notebook panel with that widget id. */
  modelById(panelId: string): NotebookBlocksModel | null {
    for (const [panel, { model }] of this._models) {
      if (panel.id === panelId) {
        return model;
      }
    }
    return null;
  }

  get settings(): BlocksSettings {
    return this._settings;
  }

  set settings(settings: BlocksSettings) {
    this._settings = settings;
    for (const { model, badges } of this._models.values()) {
      badges.enabled = settings.showBadges;
      model.loadExtension = settings.loadExtension;
    }
  }

  onBadgeClick: (model: NotebookBlocksModel, cellId: string) => void = () => undefined;

  private _settings: BlocksSettings = { ...DEFAULT_SETTINGS };
  private _models = new Map<NotebookPanel, { model: NotebookBlocksModel; badges: BadgeView }>();
}
