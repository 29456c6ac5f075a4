/**
 * The `jupyter_blocks` comm between one notebook and its kernel.
 *
 * The kernel opens the comm itself when `%load_ext jupyter_blocks` runs: its
 * open message comes on IOPub at once, even while this page's own messages
 * wait behind queued cells (a first Run All), so a comm target is registered
 * on every kernel connection. The page also opens the comm when a kernel is
 * there (a reload onto a kernel that has the extension), reopens it after a
 * restart or a kernel change, and tries again after each execution while the
 * kernel has no target. When the notebook loads the extension in a cell
 * (`%load_ext jupyter_blocks`) and the kernel has not run it yet (a new or
 * restarted kernel), the link can run that line quietly, so live states show
 * from the first second (the owner decides, from a setting). Only one comm is
 * kept: a second one (the page's and the kernel's crossing) is closed.
 * Messages are plain JSON; see `state.ts` for their shapes.
 */

import { ISessionContext } from '@jupyterlab/apputils';
import { Kernel, KernelMessage } from '@jupyterlab/services';
import { JSONObject } from '@lumino/coreutils';
import { IDisposable } from '@lumino/disposable';
import { ISignal, Signal } from '@lumino/signaling';

import { KernelMessage as BlocksMessage } from './state';

export const COMM_TARGET = 'jupyter_blocks';
export const LOAD_EXTENSION = '%load_ext jupyter_blocks';

/** A message from the kernel and the execution it came from (its parent request), if any. */
export interface LinkMessage {
  data: BlocksMessage;
  parent: string | null;
}

/** What an execution the link ran itself ended with. */
export interface ExecutionResult {
  status: string;
  ename?: string;
  evalue?: string;
  /** The text of what it displayed and printed. */
  text: string[];
}

export class KernelLink implements IDisposable {
  constructor(sessionContext: ISessionContext) {
    sessionContext.kernelChanged.connect(this._onKernelChanged, this);
    sessionContext.statusChanged.connect(this._onStatusChanged, this);
    void sessionContext.ready.then(() => {
      if (!this.isDisposed) {
        this._attach(sessionContext.session?.kernel ?? null);
      }
    });
  }

  /** A message from the kernel. */
  get received(): ISignal<this, LinkMessage> {
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

  /** Code sent for execution (by any part of JupyterLab), and when its execution ended. */
  get executions(): ISignal<this, Execution> {
    return this._executions;
  }

  /** Whether the kernel has answered on an open comm. */
  get connected(): boolean {
    return this._connected;
  }

  get isDisposed(): boolean {
    return this._isDisposed;
  }

  /**
   * The current `sync`: the payload of the comm's open message, and the first message on a
   * comm the kernel opened, so the kernel starts from the notebook as it is now.
   */
  openPayload: () => JSONObject = () => ({});

  /** Whether to load the extension quietly in a kernel that has not loaded it. */
  shouldLoad: () => boolean = () => false;

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

  /**
   * Execute `code` in the kernel without a cell: no prompt number, no history. Resolves with
   * how it ended and the text it showed, which a cell would have shown.
   */
  async execute(code: string): Promise<ExecutionResult> {
    const kernel = this._kernel;
    if (!kernel) {
      return { status: 'error', ename: 'NoKernel', evalue: 'the notebook has no kernel', text: [] };
    }
    const text: string[] = [];
    const future = kernel.requestExecute({ code, silent: false, store_history: false, stop_on_error: true });
    future.onIOPub = msg => {
      const content = msg.content as any;
      if (msg.header.msg_type === 'stream') {
        text.push(String(content.text ?? ''));
      } else if (msg.header.msg_type === 'display_data' || msg.header.msg_type === 'update_display_data') {
        text.push(String(content.data?.['text/plain'] ?? ''));
      }
    };
    const reply = await future.done;
    const content = reply.content as KernelMessage.IExecuteReplyMsg['content'];
    return content.status === 'error'
      ? { status: 'error', ename: content.ename, evalue: content.evalue, text }
      : { status: content.status, text };
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
      this._loadTried = false;
      this._dropComm();
      this._pending.clear();
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
    this._loadTried = false;
    if (kernel) {
      kernel.anyMessage.connect(this._onAnyMessage, this);
      try {
        kernel.registerCommTarget(COMM_TARGET, this._target);
      } catch (error) {
        console.warn('jupyter-blocks: cannot register the comm target', error);
      }
      this._scheduleOpen();
    }
  }

  private _detach(): void {
    if (this._kernel) {
      this._kernel.anyMessage.disconnect(this._onAnyMessage, this);
      try {
        this._kernel.removeCommTarget(COMM_TARGET, this._target);
      } catch {
        // The connection is gone.
      }
    }
    this._dropComm();
    this._kernel = null;
    this._pending.clear();
  }

  /** The kernel opened the comm (at `%load_ext`): use it, and tell the kernel what is on screen. */
  private _adopt(comm: Kernel.IComm, msg: KernelMessage.ICommOpenMsg): void {
    const previous = this._comm;
    this._comm = comm;
    this._listen(comm);
    if (previous && previous !== comm && !previous.isDisposed && !this._opening) {
      closeQuietly(previous);
    }
    this._handle(comm, msg.content.data, msg);
    this.send(this.openPayload());
  }

  private _listen(comm: Kernel.IComm): void {
    comm.onMsg = (msg: KernelMessage.ICommMsgMsg) => this._handle(comm, msg.content.data, msg);
    comm.onClose = () => {
      // A kernel without the target closes the comm at once; try again after the next execution.
      if (comm === this._comm) {
        this._comm = null;
        this._setConnected(false);
      }
    };
  }

  private _handle(comm: Kernel.IComm, payload: unknown, msg: KernelMessage.IMessage): void {
    if (comm !== this._comm) {
      return;
    }
    const data = payload as BlocksMessage;
    if (!data || typeof data !== 'object' || !('type' in data)) {
      return;
    }
    this._setConnected(true);
    const parent = (msg.parent_header as KernelMessage.IHeader | undefined)?.msg_id ?? null;
    this._received.emit({ data, parent });
  }

  private _onAnyMessage(_: Kernel.IKernelConnection, args: Kernel.IAnyMessageArgs): void {
    const msg = args.msg;
    const type = msg.header.msg_type;
    if (args.direction === 'send' && type === 'execute_request') {
      const code = (msg.content as KernelMessage.IExecuteRequestMsg['content']).code;
      this._pending.add(msg.header.msg_id);
      this._executions.emit({ id: msg.header.msg_id, code, done: false });
      return;
    }
    if (args.direction !== 'recv') {
      return;
    }
    const parent = (msg.parent_header as KernelMessage.IHeader | undefined)?.msg_id;
    const idle = type === 'status' && (msg.content as KernelMessage.IStatusMsg['content']).execution_state === 'idle';
    // The execution has ended once the kernel is idle again on IOPub, after every message it sent
    // there (the comm's run events included); the execute_reply comes on another channel and can
    // overtake them. A cell JupyterLab cancelled (after an error) ends with an aborted reply.
    const aborted =
      type === 'execute_reply' && (msg.content as KernelMessage.IExecuteReplyMsg['content']).status === 'aborted';
    if ((idle || aborted) && parent && this._pending.delete(parent)) {
      this._executions.emit({ id: parent, code: '', done: true });
    }
    if (type === 'execute_reply' && !this._comm && !this._opening) {
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
    this._listen(comm);
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
    if (this._comm !== comm && !comm.isDisposed) {
      // The kernel opened its own comm meanwhile (a queued %load_ext ran first): keep that one.
      closeQuietly(comm);
    }
    if (!this._comm && kernel === this._kernel) {
      void this._loadQuietly(kernel);
    }
  }

  /** Run `%load_ext jupyter_blocks` once in a kernel without the target, when the owner wants it. */
  private async _loadQuietly(kernel: Kernel.IKernelConnection): Promise<void> {
    if (this._loadTried || this._isDisposed || !this.shouldLoad()) {
      return;
    }
    this._loadTried = true;
    try {
      await kernel.requestExecute({ code: LOAD_EXTENSION, silent: true, store_history: false }).done;
    } catch (error) {
      console.warn('jupyter-blocks: could not load the extension in the kernel', error);
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

  private _target = (comm: Kernel.IComm, msg: KernelMessage.ICommOpenMsg): void => this._adopt(comm, msg);
  private _kernel: Kernel.IKernelConnection | null = null;
  private _comm: Kernel.IComm | null = null;
  private _opening = false;
  private _connected = false;
  private _restarting = false;
  private _loadTried = false;
  private _retryTimer = 0;
  private _isDisposed = false;
  private _received = new Signal<this, LinkMessage>(this);
  private _reset = new Signal<this, void>(this);
  private _connectionChanged = new Signal<this, boolean>(this);
  private _executions = new Signal<this, Execution>(this);
  private _pending = new Set<string>();
}

function closeQuietly(comm: Kernel.IComm): void {
  try {
    comm.close();
  } catch {
    // Already closed.
  }
}

/** An execute request seen on the kernel connection. */
export interface Execution {
  id: string;
  code: string;
  done: boolean;
}
