/**
 * zstd decoding on a thread of its own, for a restore that reads a whole archive: the
 * event-loop thread then only decrypts, reads the tar and makes the files, while the worker
 * (decode-worker.ts) decodes beside it. GNU tar's pipeline spreads the same work over
 * processes; on a tree of small files restore was bound by its one thread.
 *
 * The threads share two fixed rings (byte-ring.ts) and a doorbell each way, and post no
 * message per chunk: compressed bytes are copied into the input ring, decoded ones copied out
 * of the output ring into a new Buffer per push, as the single-threaded decoder allocated its
 * blocks, or read in place by a reader on another thread (shareOutput: restore's extraction
 * thread). So memory is the rings' 4.5 MiB and the worker's heap, whatever the ratio: when the
 * reader stops asking, the output ring fills and the worker waits (issue 16's bound).
 */
import { Duplex } from "node:stream";
import { Worker } from "node:worker_threads";
import { BELL_TO_MAIN, BELL_TO_WORKER, ByteRing, Doorbell, INPUT_ENDED, type SharedOutput, STOP, writeAllToRing } from "@sov/core/byte-ring";
import { CONTROL_SLOTS, type DecodeFailure, type DecodeWorkerSetup, DONE, ENDED_IN_FRAME, STATE } from "./decode-messages.js";

const INPUT_RING = 512 * 1024;
/**
 * Twice what a reader of the shared output may hold (restore's extraction thread hands out
 * views and gives their bytes back 2 MiB later: its LAG).
 */
const OUTPUT_RING = 4 << 20;
/** The most one push carries: the size of the pieces the tar reader gets. */
const PUSH_MAX = 128 * 1024;
/** Recycled pieces kept for reuse. */
const SPARE_PIECES = 16;
/** Decoded bytes buffered for the reader before the output ring is left to fill. */
const READABLE_BUFFER = 1 << 20;

const EMPTY = new Uint8Array(0);

export class ThreadedZstdDecodeStream extends Duplex {
  private readonly input = new ByteRing(ByteRing.allocate(INPUT_RING));
  private readonly output = new ByteRing(ByteRing.allocate(OUTPUT_RING));
  private readonly control = new Int32Array(new SharedArrayBuffer(CONTROL_SLOTS * Int32Array.BYTES_PER_ELEMENT));
  private readonly toWorker = new Doorbell(this.control, BELL_TO_WORKER);
  private readonly toMain = new Doorbell(this.control, BELL_TO_MAIN);
  private worker: Worker | undefined;
  /** Resolves when the worker has ended. */
  private workerExited: Promise<void> = Promise.resolve();
  private failure: Error | undefined;
  /** The reader wants more: push until it says it has enough. */
  private wanted = false;
  private pumping = false;
  /** _final's callback, called once the worker has decoded everything. */
  private ended: ((err?: Error | null) => void) | undefined;

  /** Pushed pieces the reader gave back (recycle), filled again instead of new ones. */
  private readonly spare: Buffer[] = [];
  /** The output ring is read in place by another thread (shareOutput): nothing is pushed. */
  private shared = false;

  constructor() {
    super({ readableHighWaterMark: READABLE_BUFFER, writableHighWaterMark: INPUT_RING });
  }

  /**
   * The reader is done with a piece this stream pushed and will not touch it again (restore's
   * extraction thread copies each one into its own ring): it is refilled instead of allocating
   * another, so a whole archive leaves no trail of dead 128 KiB buffers for the collector.
   */
  recycle(piece: Buffer): void {
    if (this.spare.length >= SPARE_PIECES || piece.buffer.byteLength !== PUSH_MAX || piece.byteOffset !== 0) return;
    this.spare.push(Buffer.from(piece.buffer, 0, PUSH_MAX));
  }

  /**
   * Hands the output ring to a reader on another thread (restore's extraction thread), which
   * reads the decoded bytes in place: one copy of the plaintext instead of three, and none made
   * on the event-loop thread. From here on this stream pushes nothing; its readable side ends
   * once everything decoded is in the ring, or fails as it would have.
   */
  shareOutput(): SharedOutput {
    this.shared = true;
    this.wanted = true;
    return { ring: this.output.shared, control: this.control.buffer as SharedArrayBuffer };
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    this.feed(chunk).then(() => callback(), callback);
  }

  override _final(callback: (err?: Error | null) => void): void {
    try {
      this.start();
    } catch (err) {
      callback(err as Error);
      return;
    }
    this.ended = callback;
    Atomics.store(this.control, INPUT_ENDED, 1);
    this.toWorker.ring();
    this.pump();
  }

  override _read(): void {
    this.wanted = true;
    // shared: the reader takes the bytes itself; only the end (after _final) is left to see
    if (!this.shared) this.pump();
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    Atomics.store(this.control, STOP, 1);
    this.toWorker.ring();
    this.toMain.ring(); // wakes this thread's own waits, so they look again
    // Told to stop, never terminated: a thread terminated while it loads zstd-napi aborts the
    // whole process (the addon's registration throws a C++ exception where none may be thrown).
    // The worker sees STOP after the load, or within one block, and ends by itself.
    void this.workerExited.then(() => callback(err));
  }

  /** The worker starts with the first bytes, so a stream destroyed before any holds none. */
  private start(): void {
    if (this.worker) return;
    const setup: DecodeWorkerSetup = { input: this.input.shared, output: this.output.shared, control: this.control.buffer as SharedArrayBuffer };
    const worker = new Worker(new URL("./decode-worker.js", import.meta.url), { workerData: setup });
    worker.on("message", (failure: DecodeFailure) => this.fail(new Error(failure.message)));
    worker.on("error", (err) => this.fail(new Error(`the zstd thread failed: ${err.message}`, { cause: err })));
    this.workerExited = new Promise((resolve) => {
      worker.on("exit", (code) => {
        if (Atomics.load(this.control, STATE) !== DONE && !this.destroyed) this.fail(new Error(`the zstd thread stopped unexpectedly (exit code ${code})`));
        resolve();
      });
    });
    this.worker = worker;
  }

  /** Copies `chunk` into the input ring, waiting for room as the worker takes it. */
  private async feed(chunk: Buffer): Promise<void> {
    this.start();
    await writeAllToRing(this.input, chunk, this.toWorker, this.toMain, () => {
      this.check();
      return true;
    });
  }

  /** Pushes decoded bytes while the reader wants them; ends the stream once the worker is done. */
  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    this.pumpAsync().catch((err: Error) => this.destroy(err));
  }

  private async pumpAsync(): Promise<void> {
    // `pumping` is cleared in the same turn the loop ends, so a _read() after it starts a new pump
    try {
      while (this.wanted && !this.destroyed) {
        const mark = this.toMain.mark();
        this.check();
        // DONE is read before the ring: the worker commits all its output before it says DONE,
        // so a ring found empty after DONE holds nothing more
        const done = Atomics.load(this.control, STATE) === DONE;
        const view = this.shared ? EMPTY : this.output.readView();
        if (view.length > 0) {
          const n = Math.min(view.length, PUSH_MAX);
          const spare = this.spare.pop();
          const piece = spare ? spare.subarray(0, n) : Buffer.allocUnsafe(n);
          piece.set(view.subarray(0, n));
          this.output.consume(n);
          this.toWorker.ring();
          // push() may call _read() before it returns, which wants more whatever push() says
          this.wanted = false;
          if (this.push(piece)) this.wanted = true;
          continue;
        }
        if (done && this.ended) {
          const ended = this.ended;
          this.ended = undefined;
          if (Atomics.load(this.control, ENDED_IN_FRAME)) {
            ended(new Error("the zstd stream ends in the middle of a frame (truncated archive)"));
            return;
          }
          ended();
          this.push(null);
          return;
        }
        await this.toMain.whenRung(mark);
      }
    } finally {
      this.pumping = false;
    }
  }

  private fail(err: Error): void {
    this.failure ??= err;
    this.destroy(this.failure);
  }

  private check(): void {
    if (this.failure) throw this.failure;
    if (this.destroyed) throw new Error("zstd: the decoder was destroyed");
  }
}

export function createThreadedZstdDecodeStream(): Duplex {
  return new ThreadedZstdDecodeStream();
}
