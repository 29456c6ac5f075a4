/**
 * The schedule at the top of the Runs panel: the notebook's triggers and backfills.
 *
 * Each trigger of the saved notebook's `%%pipeline` cell with its schedule,
 * whether it is active, its next fire time (in UTC and in the browser's zone)
 * and its last run's status; each recent backfill with its bounds, interval,
 * status and progress. The server reads the saved notebook, so the section
 * refreshes when the notebook is saved, with the panel (run events, kernel
 * restarts, its Refresh button), and every 30 s while the panel is on screen
 * (runs the scheduler starts from a terminal send no events here).
 */

import { DocumentRegistry } from '@jupyterlab/docregistry';

import { ApiError, getSchedule } from './api';
import { element } from './dom';
import { NotebookBlocksModel } from './model';
import {
  BACKFILLS_SHOWN,
  BackfillInfo,
  NO_TRIGGERS,
  ScheduleListing,
  TriggerInfo,
  backfillBounds,
  backfillProgress,
  lastRun,
  nextFire,
  parseTime,
  scheduleError
} from './schedule';

/** How often the section asks again while the panel is visible. */
const REFRESH_MS = 30_000;

export class ScheduleSection {
  /** `isVisible`: whether the panel holding the section is on screen. */
  constructor(private readonly _isVisible: () => boolean) {
    this.node = document.createElement('section');
    this.node.className = 'jp-BlocksSchedule';
    this.node.setAttribute('aria-label', 'Schedule');
    this.node.hidden = true;
    this._timer = window.setInterval(() => {
      if (!document.hidden) {
        void this.refresh();
      }
    }, REFRESH_MS);
  }

  readonly node: HTMLElement;

  set model(model: NotebookBlocksModel | null) {
    if (model === this._model) {
      return;
    }
    this._model?.panel.context.saveState.disconnect(this._onSaveState, this);
    this._model = model;
    this._model?.panel.context.saveState.connect(this._onSaveState, this);
    this._shown = null;
    this.node.replaceChildren();
    this.node.hidden = !model;
  }

  /** Ask the server again (later, when the panel is hidden now). */
  async refresh(): Promise<void> {
    const model = this._model;
    if (!model) {
      return;
    }
    if (!this._isVisible()) {
      this._stale = true;
      return;
    }
    this._stale = false;
    const request = ++this._requests;
    let listing: ScheduleListing | null = null;
    let error: string | null = null;
    try {
      listing = await getSchedule(model.panel.context.path);
    } catch (caught) {
      error = scheduleError(caught instanceof ApiError ? caught.message : String(caught));
    }
    // A newer request, or another notebook, has the last word.
    if (request !== this._requests || model !== this._model) {
      return;
    }
    this._shown = listing;
    if (listing) {
      this._render(listing);
    } else {
      this._renderError(error ?? '');
    }
  }

  /** The panel came on screen: catch up with what changed while it was hidden. */
  showed(): void {
    if (this._stale) {
      void this.refresh();
    } else if (this._shown) {
      // Relative times ("2 h ago") moved on while it was hidden.
      this._render(this._shown);
    }
  }

  dispose(): void {
    window.clearInterval(this._timer);
    this.model = null;
  }

  private _onSaveState(_: DocumentRegistry.IContext<any>, state: DocumentRegistry.SaveState): void {
    if (state === 'completed') {
      void this.refresh();
    }
  }

  private _render(listing: ScheduleListing): void {
    const now = Date.now();
    const triggers = listing.triggers ?? [];
    const backfills = listing.backfills ?? [];
    this.node.dataset.state = triggers.length ? 'triggers' : 'empty';
    const heading = element('div', 'jp-BlocksSchedule-heading', 'Schedule');
    if (listing.pipeline) {
      heading.append(element('span', 'jp-BlocksSchedule-pipeline', ` · ${listing.pipeline}`));
    }
    const parts: HTMLElement[] = [heading];
    if (triggers.length) {
      const list = element('ul', 'jp-BlocksSchedule-triggers', '');
      list.append(...triggers.map(trigger => triggerItem(trigger, now)));
      parts.push(list);
    } else {
      parts.push(element('div', 'jp-BlocksSchedule-message', NO_TRIGGERS));
    }
    if (backfills.length) {
      parts.push(element('div', 'jp-BlocksSchedule-subheading', 'Backfills'));
      const list = element('ul', 'jp-BlocksSchedule-backfills', '');
      list.append(...backfills.slice(0, BACKFILLS_SHOWN).map(backfillItem));
      parts.push(list);
      const older = backfills.length - BACKFILLS_SHOWN;
      if (older > 0) {
        parts.push(
          element(
            'div',
            'jp-BlocksSchedule-more',
            `${older} older backfill${older === 1 ? '' : 's'}: jupyter-blocks backfill list`
          )
        );
      }
    }
    this.node.replaceChildren(...parts);
  }

  private _renderError(message: string): void {
    this.node.dataset.state = 'error';
    const line = element('div', 'jp-BlocksSchedule-error', message);
    line.setAttribute('role', 'alert');
    this.node.replaceChildren(element('div', 'jp-BlocksSchedule-heading', 'Schedule'), line);
  }

  private _model: NotebookBlocksModel | null = null;
  /** The listing on screen, drawn again to move its relative times on. */
  private _shown: ScheduleListing | null = null;
  private _stale = false;
  private _requests = 0;
  private _timer: number;
}

function triggerItem(trigger: TriggerInfo, now: number): HTMLLIElement {
  const item = element('li', 'jp-BlocksSchedule-trigger', '');
  item.dataset.trigger = trigger.trigger;
  item.dataset.type = trigger.type;
  item.dataset.status = trigger.status;

  const top = element('div', 'jp-BlocksSchedule-row', '');
  const active = trigger.status === 'active';
  const state = element('span', 'jp-BlocksSchedule-active', active ? 'active' : 'inactive');
  state.dataset.active = String(active);
  const last = lastRun(trigger, now);
  const lastNode = element('span', 'jp-BlocksSchedule-last', '');
  lastNode.append(element('span', 'jp-BlocksSchedule-lastLabel', 'last: '));
  const status = element('span', 'jp-BlocksSchedule-status', last.text);
  status.dataset.status = last.status ?? 'never';
  lastNode.append(status);
  lastNode.title = last.title;
  top.append(element('span', 'jp-BlocksSchedule-name', trigger.trigger), state, lastNode);
  item.append(top);

  if (trigger.type === 'time') {
    item.append(element('div', 'jp-BlocksSchedule-schedule', trigger.schedule));
  }
  const next = nextFire(trigger, now);
  const nextNode = element('div', 'jp-BlocksSchedule-next', '');
  if (next.relative) {
    // The separators stay outside the parts: a narrow panel wraps there, never inside a time.
    nextNode.append(
      element('span', 'jp-BlocksSchedule-nextLabel', 'next:'),
      ' ',
      element('span', 'jp-BlocksSchedule-nextUtc', next.text),
      ' · ',
      element('span', 'jp-BlocksSchedule-nextIn', next.relative),
      ' · ',
      element('span', 'jp-BlocksSchedule-nextLocal', next.local ? `${next.local} local` : 'same in local time')
    );
  } else {
    nextNode.textContent = next.text;
    nextNode.classList.add('jp-mod-noTime');
  }
  item.append(nextNode);
  return item;
}

function backfillItem(backfill: BackfillInfo): HTMLLIElement {
  const item = element('li', 'jp-BlocksSchedule-backfill', '');
  item.dataset.backfill = backfill.backfill_id;
  item.dataset.status = backfill.status;
  const top = element('div', 'jp-BlocksSchedule-row', '');
  const status = element('span', 'jp-BlocksSchedule-status', backfill.status);
  status.dataset.status = backfill.status;
  top.append(element('span', 'jp-BlocksSchedule-name', backfill.backfill_id), status);
  const created = parseTime(backfill.created_at);
  if (created) {
    top.title = `Started ${created.toLocaleString()}${backfill.host ? ` on ${backfill.host}` : ''}`;
  }

  const progress = backfillProgress(backfill);
  const bar = element('div', 'jp-BlocksSchedule-bar', '');
  bar.setAttribute('role', 'progressbar');
  bar.setAttribute('aria-valuemin', '0');
  bar.setAttribute('aria-valuemax', String(progress.total));
  bar.setAttribute('aria-valuenow', String(progress.done + progress.failed));
  bar.setAttribute('aria-valuetext', progress.text);
  const share = (count: number) => (progress.total ? `${(100 * count) / progress.total}%` : '0');
  const done = element('span', 'jp-BlocksSchedule-barDone', '');
  done.style.width = share(progress.done);
  const failed = element('span', 'jp-BlocksSchedule-barFailed', '');
  failed.style.width = share(progress.failed);
  bar.append(done, failed);

  item.append(
    top,
    element('div', 'jp-BlocksSchedule-bounds', backfillBounds(backfill)),
    bar,
    element('div', 'jp-BlocksSchedule-progress', progress.text)
  );
  return item;
}
