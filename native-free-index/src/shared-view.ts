/**
 * Sharing one index between threads without copying it.
 *
 * The writer owns a Publisher: a control SharedArrayBuffer whose first Int32 is the
 * current epoch, and a BroadcastChannel on which it posts each new EpochState
 * (structured clone shares SharedArrayBuffers, it does not copy them) BEFORE
 * storing the new epoch number. A SharedView in another thread checks the epoch
 * word on every read (one Atomics.load); when it moved, it drains the channel
 * synchronously with receiveMessageOnPort, so the message is already there. A view
 * opened from an old handle (a compaction happened in between) asks the writer to
 * repost; until the answer arrives it keeps serving its older, still consistent
 * snapshot: reads never wait for the writer.
 *
 * Channels are unref'd so that neither side keeps its thread alive.
 */
import { BroadcastChannel, receiveMessageOnPort, threadId } from 'node:worker_threads'
import { randomUUID } from 'node:crypto'
import { EpochView } from './epoch.js'
import type { EpochState } from './epoch.js'
import { IndexReader } from './reader.js'
import { invalidArgument } from './errors.js'

const CONTROL_EPOCH = 0
const CONTROL_CLOSED = 1

/** A structured-cloneable handle: pass it to a worker (workerData or postMessage). */
export interface SharedHandle {
  readonly kind: 'native-free-index/shared-handle'
  readonly version: 1
  readonly control: SharedArrayBuffer
  readonly channel: string
  readonly state: EpochState
}

interface EpochMessage { readonly type: 'epoch', readonly state: EpochState }
interface WantMessage { readonly type: 'want' }
type ChannelMessage = EpochMessage | WantMessage

export class Publisher {
  private readonly control = new SharedArrayBuffer(8)
  private readonly controlWords = new Int32Array(this.control)
  private readonly name = `native-free-index:${process.pid}:${threadId}:${randomUUID()}`
  private readonly channel = new BroadcastChannel(this.name)
  private state: EpochState | undefined

  constructor () {
    this.channel.onmessage = (event: unknown) => {
      const data = (event as { data?: ChannelMessage }).data
      if (data?.type === 'want' && this.state !== undefined) this.channel.postMessage({ type: 'epoch', state: this.state })
    }
    this.channel.unref()
  }

  announce (state: EpochState): void {
    const first = this.state === undefined
    this.state = state
    // Post first, then bump the epoch word: a reader that sees the new epoch finds the message queued.
    if (!first) this.channel.postMessage({ type: 'epoch', state } satisfies EpochMessage)
    Atomics.store(this.controlWords, CONTROL_EPOCH, state.epoch)
  }

  handle (): SharedHandle {
    if (this.state === undefined) throw new Error('nothing published yet')
    return { kind: 'native-free-index/shared-handle', version: 1, control: this.control, channel: this.name, state: this.state }
  }

  close (): void {
    Atomics.store(this.controlWords, CONTROL_CLOSED, 1)
    this.channel.close()
  }
}

/** A read-only view of an engine owned by another thread. */
export class SharedView extends IndexReader {
  private view: EpochView
  private readonly controlWords: Int32Array
  private readonly channel: BroadcastChannel
  private askedFor = 0

  constructor (handle: SharedHandle) {
    super()
    if (handle?.kind !== 'native-free-index/shared-handle' || handle.version !== 1) {
      throw invalidArgument('openShared needs the object returned by engine.shareHandle()')
    }
    this.view = new EpochView(handle.state)
    this.controlWords = new Int32Array(handle.control)
    this.channel = new BroadcastChannel(handle.channel)
    // Also adopt asynchronously, so an idle thread drops superseded buffers.
    this.channel.onmessage = (event: unknown) => { this.adopt((event as { data?: ChannelMessage }).data) }
    this.channel.unref()
  }

  /** True once the writer closed the engine; the last snapshot stays readable. */
  get writerClosed (): boolean {
    return Atomics.load(this.controlWords, CONTROL_CLOSED) === 1
  }

  /** Epoch of the snapshot this view reads. */
  get epoch (): number {
    return this.view.state.epoch
  }

  protected current (): EpochView {
    if (Atomics.load(this.controlWords, CONTROL_EPOCH) > this.view.state.epoch) this.refresh()
    return this.view
  }

  private refresh (): void {
    const want = Atomics.load(this.controlWords, CONTROL_EPOCH)
    for (;;) {
      const received = receiveMessageOnPort(this.channel as never) as { message: ChannelMessage } | undefined
      if (received === undefined) break
      this.adopt(received.message)
    }
    if (this.view.state.epoch < want && this.askedFor < want) {
      this.askedFor = want
      this.channel.postMessage({ type: 'want' } satisfies WantMessage)
    }
  }

  private adopt (message: ChannelMessage | undefined): void {
    if (message?.type === 'epoch' && message.state.epoch > this.view.state.epoch) this.view = new EpochView(message.state)
  }

  close (): void {
    this.channel.close()
  }
}

export function openShared (handle: SharedHandle): SharedView {
  return new SharedView(handle)
}
