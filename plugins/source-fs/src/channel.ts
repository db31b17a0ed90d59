/**
 * How the main thread and the walker's worker thread talk. The worker posts messages (chunks,
 * warnings, the end) the ordinary way. Flow control runs the other way, on a port the worker
 * reads synchronously: the main thread hands the worker empty chunk buffers, one each time its
 * consumer takes a chunk, and the worker fills and transfers them back, blocking in Atomics.wait
 * when it holds none. So the walk stays synchronous (and fast) but never runs more than the
 * buffers handed out ahead of the consumer, and chunk memory is allocated and freed on the main
 * thread, where Node's garbage collector keeps its footprint smallest.
 */
import { type MessagePort, receiveMessageOnPort } from "node:worker_threads";
import type { PreviewDecision, TarPlan, TarProgress } from "./walker.js";

export interface WorkerInput {
  readonly plan: TarPlan;
  /** `tar`: write the archive. `preview`: the same walk, posting decisions instead (see walker.ts). */
  readonly mode: "tar" | "preview";
  /** Where empty buffers arrive; transferred to the worker. */
  readonly buffers: MessagePort;
  /** From createControl(): a counter bumped after each buffer is posted, and the stop flag. */
  readonly control: SharedArrayBuffer;
}

/** Messages to the main thread, in stream order. */
export type WorkerMessage =
  | { type: "chunk"; data: Uint8Array; progress: TarProgress }
  | { type: "decisions"; batch: PreviewDecision[] }
  | { type: "warn"; message: string }
  | { type: "debug"; message: string }
  | { type: "end"; progress?: TarProgress }
  | { type: "fail"; message: string };

const POSTED = 0;
const STOP = 1;

export function createControl(): SharedArrayBuffer {
  return new SharedArrayBuffer(2 * Int32Array.BYTES_PER_ELEMENT);
}

/**
 * Main thread: one more empty buffer the worker may fill. The preview's worker fills no buffers
 * and is given `null`: leave to post one more batch of decisions.
 */
export function giveBuffer(port: MessagePort, control: Int32Array, buffer: Buffer | null): void {
  port.postMessage(buffer, buffer ? [buffer.buffer as ArrayBuffer] : []);
  Atomics.add(control, POSTED, 1);
  Atomics.notify(control, POSTED);
}

/** Main thread: wakes a waiting worker and makes takeBuffer() throw, before the worker is terminated. */
export function requestStop(control: Int32Array): void {
  Atomics.store(control, STOP, 1);
  Atomics.add(control, POSTED, 1);
  Atomics.notify(control, POSTED);
}

/** Worker thread: the next empty buffer (`null` for the preview), blocking until the main thread gives one. */
export function takeBuffer(port: MessagePort, control: Int32Array): Uint8Array | null {
  for (;;) {
    if (Atomics.load(control, STOP) !== 0) throw new Error("the source was stopped");
    // read the counter before looking, so a buffer posted in between ends the wait at once
    const posted = Atomics.load(control, POSTED);
    const received = receiveMessageOnPort(port);
    if (received) return received.message as Uint8Array | null;
    Atomics.wait(control, POSTED, posted);
  }
}
