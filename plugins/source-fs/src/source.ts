import { join } from "node:path";
import { Readable } from "node:stream";
import { MessageChannel, type MessagePort, Worker } from "node:worker_threads";
import { type ArchiveSource, type Logger, RunError, type SourceStats } from "@sov/core";
import { createControl, giveBuffer, requestStop, type WorkerInput, type WorkerMessage } from "./channel.js";
import { compileExcludes } from "./exclude.js";
import { type FsSourceOptions, memberName, resolveRoot } from "./options.js";
import type { TarPlan, TarProgress } from "./walker.js";

/** What the stream is cut into: large enough that per-chunk costs vanish, small enough to bound memory. */
export const CHUNK_SIZE = 1 << 20;

/**
 * Chunks the walker may produce ahead of the consumer: enough to keep the disk busy while the
 * consumer works, few enough that memory stays small whatever the data size.
 */
export const CHUNKS_AHEAD = 8;

export interface FsSourceContext {
  readonly log: Logger;
  /** Where a relative `root` is resolved from. */
  readonly configDir: string;
}

/** The ArchiveSource for the configured paths; checks the options but touches no source file. */
export function createFsSource(options: Readonly<FsSourceOptions>, ctx: FsSourceContext): ArchiveSource {
  const root = resolveRoot(options.root ?? "/", ctx.configDir);
  const exclude = options.exclude ?? [];
  const names = options.paths.map(memberName);
  compileExcludes(exclude); // a pattern the matcher cannot compile fails now, not mid-backup
  const plan: TarPlan = {
    root: byteString(root === "/" ? "" : root),
    sources: names.map(byteString),
    exclude,
  };
  const stats: SourceStats = { files: 0, bytes: 0, warnings: [] };

  return {
    stats,
    describe: () => [
      ...names.map((n) => (root === "/" ? `/${n}` : `${join(root, n)} (archived as ${n || "its content"})`)),
      exclude.length > 0 ? `excluding ${exclude.join(", ")}` : "excluding nothing",
    ],
    open(signal) {
      stats.files = 0;
      stats.bytes = 0;
      return new WorkerTarStream(plan, signal, {
        progress: (p) => {
          stats.files = p.files;
          stats.bytes = p.bytes;
        },
        warn: (message) => {
          stats.warnings.push(message);
          ctx.log.warn(message);
        },
        debug: (message) => ctx.log.debug(message),
      });
    },
  };
}

interface StreamEvents {
  progress(p: TarProgress): void;
  warn(message: string): void;
  debug(message: string): void;
}

/**
 * The tar stream, produced by a worker thread. The worker runs at most CHUNKS_AHEAD chunks ahead
 * of this stream's consumer: it fills only the buffers it is given, one per chunk consumed.
 */
class WorkerTarStream extends Readable {
  private readonly worker: Worker;
  private readonly buffers: MessagePort;
  private readonly control: Int32Array;
  private readonly queue: Buffer[] = [];
  private consumerWaiting = false;
  private workerDone = false;
  private ended = false;
  private readonly onAbort: () => void;

  constructor(
    plan: TarPlan,
    private readonly signal: AbortSignal,
    private readonly events: StreamEvents,
  ) {
    super();
    const control = createControl();
    this.control = new Int32Array(control);
    const { port1, port2 } = new MessageChannel();
    this.buffers = port1;
    const input: WorkerInput = { plan, buffers: port2, control };
    this.worker = new Worker(new URL("./worker.js", import.meta.url), { workerData: input, transferList: [port2] });
    for (let i = 0; i < CHUNKS_AHEAD; i++) this.giveBuffer();
    this.worker.on("message", (message: WorkerMessage) => this.onMessage(message));
    this.worker.on("error", (err) => this.destroy(new Error(`the tar walker failed: ${err.message}`, { cause: err })));
    this.worker.on("exit", (code) => {
      if (!this.workerDone) this.destroy(new Error(`the tar walker stopped unexpectedly (exit code ${code})`));
    });
    this.onAbort = () => this.destroy(signal.reason instanceof Error ? signal.reason : new Error("the source was aborted"));
    if (signal.aborted) queueMicrotask(this.onAbort);
    else signal.addEventListener("abort", this.onAbort, { once: true });
  }

  override _read(): void {
    this.consumerWaiting = true;
    this.pushQueued();
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.signal.removeEventListener("abort", this.onAbort);
    this.workerDone = true;
    requestStop(this.control);
    this.buffers.close();
    this.worker.terminate().then(
      () => callback(err),
      () => callback(err),
    );
  }

  private onMessage(message: WorkerMessage): void {
    if (this.destroyed) return;
    switch (message.type) {
      case "chunk":
        this.queue.push(Buffer.from(message.data.buffer, message.data.byteOffset, message.data.byteLength));
        this.events.progress(message.progress);
        this.pushQueued();
        break;
      case "warn":
        this.events.warn(message.message);
        break;
      case "debug":
        this.events.debug(message.message);
        break;
      case "end":
        this.workerDone = true;
        this.events.progress(message.progress);
        this.pushQueued();
        break;
      case "fail":
        this.workerDone = true;
        this.destroy(new RunError(message.message));
        break;
    }
  }

  /** Allocated here, not in the worker: freed here too, they keep the process smallest. */
  private giveBuffer(): void {
    giveBuffer(this.buffers, this.control, Buffer.allocUnsafeSlow(CHUNK_SIZE));
  }

  private pushQueued(): void {
    while (this.consumerWaiting && this.queue.length > 0) {
      this.giveBuffer();
      this.consumerWaiting = this.push(this.queue.shift());
    }
    if (this.workerDone && this.queue.length === 0 && !this.ended && !this.destroyed) {
      this.ended = true;
      this.push(null);
    }
  }
}

/** UTF-8 text as the byte string the walker works with (one char per byte). */
function byteString(text: string): string {
  return Buffer.from(text, "utf8").toString("latin1");
}
