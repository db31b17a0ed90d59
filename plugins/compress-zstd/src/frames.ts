/**
 * zstd one frame at a time, for seekable archives (the core cuts the frames; see
 * core/src/seekable.ts). Frames are independent by design, so they are compressed in parallel:
 * frame n goes to thread n mod `threads` (frame-worker.ts), which compresses it single-threaded
 * as its input arrives, and the output comes back in order. Unlike zstd's own multi-threading,
 * nothing waits at a frame's end, no history is compressed twice, and the event-loop thread
 * only copies input into slabs.
 *
 * Memory: a few 1 MiB input slabs that circulate (2 per thread, 2 more being filled), each
 * thread's zstd context (about 3.5 MiB at level 3), and the output of frames that finished
 * before an older one.
 */
import { Worker } from "node:worker_threads";
import type { FrameCompressor, FrameOutput } from "@sov/core";
import type { FromWorker, ToWorker, WorkerSetup } from "./frame-messages.js";

export interface ZstdFrameParameters {
  level: number;
  threads: number;
}

const SLAB_SIZE = 1024 * 1024;

export function createZstdFrames(p: ZstdFrameParameters): FrameCompressor {
  return new ZstdFrames(p);
}

/** A frame's output not yet handed to the core. */
interface PendingFrame {
  pieces: Buffer[];
  ended: boolean;
}

class ZstdFrames implements FrameCompressor {
  private readonly workers: Worker[] = [];
  private readonly maxSlabs: number;
  private readonly freeSlabs: ArrayBuffer[] = [];
  private slabsMade = 0;
  /** The slab being filled, and how much of it is. */
  private slab: Buffer | undefined;
  private fill = 0;
  /** The frame being written. */
  private frame = 0;
  /** Frames from `firstPending` on whose output has not all been returned; the last is `frame`. */
  private readonly pending: PendingFrame[] = [{ pieces: [], ended: false }];
  private firstPending = 0;
  private waiters: Array<() => void> = [];
  private failure: Error | undefined;
  private disposed = false;

  constructor(private readonly p: ZstdFrameParameters) {
    this.maxSlabs = 2 * this.threads + 2;
  }

  private get threads(): number {
    return Math.max(1, this.p.threads);
  }

  /**
   * Frame `frame`'s thread. Thread i starts with frame i, so a run that ends before any data
   * holds none, and a backup of one frame starts one.
   */
  private worker(frame: number): Worker {
    const i = frame % this.threads;
    let worker = this.workers[i];
    if (!worker) {
      const setup: WorkerSetup = { level: this.p.level, outSlabSize: SLAB_SIZE };
      worker = new Worker(new URL("./frame-worker.js", import.meta.url), { workerData: setup });
      worker.on("message", (message: FromWorker) => this.onMessage(message));
      worker.on("error", (err) => this.fail(new Error(`a zstd thread failed: ${err.message}`, { cause: err })));
      worker.on("exit", (code) => {
        if (!this.disposed) this.fail(new Error(`a zstd thread stopped unexpectedly (exit code ${code})`));
      });
      this.workers[i] = worker;
    }
    return worker;
  }

  async write(input: Buffer): Promise<FrameOutput> {
    for (let at = 0; at < input.length; ) {
      this.slab ??= await this.takeSlab();
      const copied = input.copy(this.slab, this.fill, at);
      at += copied;
      this.fill += copied;
      if (this.fill === this.slab.length) this.send(false);
    }
    return this.ready();
  }

  async endFrame(): Promise<FrameOutput> {
    this.check();
    this.send(true);
    this.frame++;
    this.pending.push({ pieces: [], ended: false });
    return this.ready();
  }

  async finish(): Promise<FrameOutput> {
    const out: FrameOutput = [];
    // Every frame before the current (never written) one must end.
    while (this.firstPending < this.frame) {
      this.check();
      out.push(...this.ready());
      if (this.firstPending < this.frame) await this.nextEvent();
    }
    return out;
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    // Asked to end, never terminated: a thread terminated while it loads zstd-napi aborts the
    // whole process (the addon's registration throws a C++ exception where none may be thrown).
    // The request waits in the thread's queue behind its last frame, so it comes after the load.
    const close: ToWorker = { close: true };
    for (const worker of this.workers) worker.postMessage(close);
    this.freeSlabs.length = 0;
    this.slab = undefined;
    this.wakeAll();
  }

  /** Sends the filled part of the slab to the current frame's thread; with `end`, ends the frame. */
  private send(end: boolean): void {
    if (!(this.slab && this.fill > 0) && !end) return;
    this.check(); // disposed while a write awaited its slab: start no thread nobody will close
    const worker = this.worker(this.frame);
    if (this.slab && this.fill > 0) {
      const slab = this.slab.buffer as ArrayBuffer;
      const message: ToWorker = { frame: this.frame, slab, length: this.fill, end };
      worker.postMessage(message, [slab]);
      this.slab = undefined;
      this.fill = 0;
    } else {
      const message: ToWorker = { frame: this.frame, length: 0, end };
      worker.postMessage(message);
    }
  }

  /** A free input slab: a returned one, a new one while there are fewer than maxSlabs, else the next returned. */
  private async takeSlab(): Promise<Buffer> {
    for (;;) {
      this.check();
      const free = this.freeSlabs.pop();
      if (free) return Buffer.from(free);
      if (this.slabsMade < this.maxSlabs) {
        this.slabsMade++;
        return Buffer.allocUnsafeSlow(SLAB_SIZE);
      }
      await this.nextEvent();
    }
  }

  /** The output at the head of the stream: whole frames, then what the oldest unfinished one has so far. */
  private ready(): FrameOutput {
    const out: FrameOutput = [];
    while (this.pending.length > 0) {
      const head = this.pending[0]!;
      out.push(...head.pieces);
      head.pieces = [];
      if (!head.ended) break;
      out.push(null);
      this.pending.shift();
      this.firstPending++;
    }
    return out;
  }

  private onMessage(message: FromWorker): void {
    switch (message.type) {
      case "slab":
        if (!this.disposed) this.freeSlabs.push(message.slab);
        break;
      case "output": {
        const frame = this.pending[message.frame - this.firstPending];
        if (!frame) {
          this.fail(new Error(`zstd: output for frame ${message.frame}, which is not in flight`));
          break;
        }
        if (message.length > 0) frame.pieces.push(Buffer.from(message.slab, 0, message.length));
        if (message.end) frame.ended = true;
        break;
      }
      case "error":
        this.fail(new Error(`zstd: ${message.message}`));
        break;
    }
    this.wakeAll();
  }

  private nextEvent(): Promise<void> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private wakeAll(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  private fail(err: Error): void {
    this.failure ??= err;
    this.wakeAll();
  }

  private check(): void {
    if (this.failure) throw this.failure;
    if (this.disposed) throw new Error("zstd: the frame compressor was disposed");
  }
}
