/**
 * The `jupyter_blocks` comm between one notebook and its kernel.
 *
 * Opens the comm when a kernel is there, reopens it after a restart or a
 * kernel change, and, while the kernel has no `jupyter_blocks` target yet
 * (the user has not run `%load_ext jupyter_blocks`), tries again after each
 * execution finishes. Messages are plain JSON; see `state.ts` for their shapes.
 */

import { ISessionContext } from '@jupyterlab/apputils';
import { Kernel, KernelMessage } from '@jupyterlab/services';
import { JSONObject } from '@lumino/coreutils';
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import { KernelMessage as BlocksMessage } from './state';

export const COMM_TARGET = 'jupyter_blocks';

export class KernelLink implements IDisposable {
  constructor(_sessionContext: ISessionContext) {
    _sessionContext.kernelChanged.connect(this._onKernelChanged, this);
    _sessionContext.statusChanged.connect(this._onStatusChanged, this);
    void _sessionContext.ready.then(() => {
      if (!this.isDisposed) {
        this._attach(_sessionContext.session?.kernel ?? null);
      }
    });
  }

  /** A message from the kernel. */
  get received(): ISignal<this, BlocksMessage> {
    return this._received;
  }

  /** The kernel's state is gone (restart, shutdown, another kernel): forget what it said. */
  get reset(): ISignal<this, void> {
    return this._reset;
  }

  /** The comm opened or closed. */
  get connectionChanged(): ISignal<this, boolean> {
    return this._connectionChanged;
  }

  /** Whether the kernel has answered on an open comm. */
  get connected(): boolean {
    return this._connected;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /**
   * The payload of the comm's open message (the current `sync`).
   * Set by the owner so a reopened comm starts from the notebook as it is now.
   */
  openPayload: () => JSONObject = () => ({});

  /** Send a message if the comm is open; returns whether it was sent. */
  send(data: JSONObject): boolean {
    if (!this._comm || this._comm.isDisposed) {
      return false;
    }
    try {
      this._comm.send(data);
      return true;
    } catch (error) {
      console.warn('jupyter-blocks: could not send to the kernel', error);
      return false;
    }
  }

  dispose(): void {
    if (this._isDisposed) {
      return;
    }
    this._isDisposed = true;
    window.clearTimeout(this._retryTimer);
    this._detach();
    Signal.clearData(this);
  }

  private _onKernelChanged(
    _: ISessionContext,
    change: { oldValue: Kernel.IKernelConnection | null; newValue: Kernel.IKernelConnection | null }
  ): void {
    this._attach(change.newValue);
  }

  private _onStatusChanged(_: ISessionContext, status: Kernel.Status): void {
    if (status === 'restarting' || status === 'autorestarting' || status === 'dead') {
      this._restarting = true;
      this._dropComm();
      this._reset.emit();
    } else if (status === 'idle' && this._restarting) {
      this._restarting = false;
      this._scheduleOpen();
    }
  }

  private _attach(kernel: Kernel.IKernelConnection | null): void {
    this._detach();
    this._reset.emit();
    this._kernel = kernel;
    if (kernel) {
      kernel.anyMessage.connect(this._onAnyMessage, this);
      this._scheduleOpen();
    }
  }

  private _detach(): void {
    if (this._kernel) {
      this._kernel.anyMessage.disconnect(this._onAnyMessage, this);
    }
    this._dropComm();
    this._kernel = null;
    this._pending.clear();
  }

  /** Code sent for execution (by any part of JupyterLab), and when its execution ended. */
  get executions(): ISignal<this, Execution> {
    return this._executions;
  }

  /** Retry after each execution while the kernel has no comm target. */
  private _onAnyMessage(_: Kernel.IKernelConnection, args: Kernel.IAnyMessageArgs): void {
    const msg = args.msg;
    if (args.direction === 'send' && msg.header.msg_type === 'execute_request') {
      const code = (msg.content as KernelMessage.IExecuteRequestMsg['content']).code;
      this._pending.add(msg.header.msg_id);
      this._executions.emit({ id: msg.header.msg_id, code, done: false });
    } else if (
      args.direction === 'recv' &&
      msg.header.msg_type === 'status' &&
      (msg.content as KernelMessage.IStatusMsg['content']).execution_state === 'idle'
    ) {
      // The execution has ended once the kernel is idle again on IOPub, after every message it
      // sent there (the comm's run events included). The execute_reply comes on another
      // channel and can overtake them.
      const parent = (msg.parent_header as KernelMessage.IHeader | undefined)?.msg_id;
      if (parent && this._pending.delete(parent)) {
        this._executions.emit({ id: parent, code: '', done: true });
      }
    }
    if (
      args.direction === 'recv' &&
      args.msg.header.msg_type === 'execute_reply' &&
      !this._comm &&
      !this._opening
    ) {
      this._scheduleOpen();
    }
  }

  private _scheduleOpen(): void {
    window.clearTimeout(this._retryTimer);
    this._retryTimer = window.setTimeout(() => void this._open(), 50);
  }

  private async _open(): Promise<void> {
    const kernel = this._kernel;
    if (!kernel || kernel.isDisposed || this._comm || this._opening || this._isDisposed) {
      return;
    }
    this._opening = true;
    const comm = kernel.createComm(COMM_TARGET);
    this._comm = comm;
    comm.onMsg = (msg: KernelMessage.ICommMsgMsg) => {
      if (comm !== this._comm) {
        return;
      }
      const data = msg.content.data as unknown as BlocksMessage;
      if (!data || typeof data !== 'object' || !('type' in data)) {
        return;
      }
      this._setConnected(true);
      this._received.emit(data);
    };
    comm.onClose = () => {
      // A kernel without the target closes the comm at once; try again after the next execution.
      if (comm === this._comm) {
        this._comm = null;
        this._setConnected(false);
      }
    };
    try {
      // The open message carries the first sync; the kernel answers with a state snapshot.
      await comm.open(this.openPayload()).done;
    } catch (error) {
      if (comm === this._comm) {
        this._comm = null;
      }
    } finally {
      this._opening = false;
    }
  }

  private _dropComm(): void {
    const comm = this._comm;
    this._comm = null;
    this._setConnected(false);
    if (comm && !comm.isDisposed) {
      try {
        comm.dispose();
      } catch {
        // The kernel is already gone.
      }
    }
  }

  private _setConnected(value: boolean): void {
    if (this._connected !== value) {
      this._connected = value;
      this._connectionChanged.emit(value);
    }
  }

  private _kernel: Kernel.IKernelConnection | null = null;
  private _comm: Kernel.IComm | null = null;
  private _opening = false;
  private _connected = false;
  private _restarting = false;
  private _retryTimer = 0;
  private _isDisposed = false;
  private _received = new Signal<this, BlocksMessage>(this);
  private _reset = new Signal<this, void>(this);
  private _connectionChanged = new Signal<this, boolean>(this);
  private _executions = new Signal<this, Execution>(this);
  private _pending = new Set<string>();
}

/** An execute request seen on the kernel connection. */
export interface Execution {
  id: string;
  code: string;
  done: boolean;
}
