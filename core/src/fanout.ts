import { Writable } from "node:stream";
import { once } from "node:events";
import { createHash } from "node:crypto";

export interface FanoutTarget {
  readonly name: string;
  readonly writable: Writable;
  /** Set when this target failed; the others go on. */
  error?: Error;
}

/** The event loop gets a turn after at most this many bytes (a few ms of the pipeline's work). */
const TURN_EVERY = 2 * 1024 * 1024;

/**
 * One encrypted stream, many destinations: every chunk goes to every healthy target, at the
 * pace of the slowest (a target that asks for backpressure is waited on), so memory stays
 * bounded by the targets' buffers. A target that fails is dropped and the rest go on; the
 * fan-out itself fails only when no target is left.
 */
export class Fanout extends Writable {
  /** SHA-256 of everything written, for the checksum sidecars (`sov verify --storage`). */
  private readonly hash = createHash("sha256");
  sha256: string | null = null;
  /** Bytes written to every target, for the core's size checks at commit. */
  bytes = 0;
  /** Bytes written since the event loop last had a turn. */
  private sinceTurn = 0;

  constructor(
    readonly targets: FanoutTarget[],
    private readonly onTargetError: (target: FanoutTarget, err: Error) => void,
  ) {
    super({ highWaterMark: 1 << 20 });
    for (const target of targets) {
      target.writable.on("error", (err: Error) => this.fail(target, err));
    }
  }

  private live(): FanoutTarget[] {
    return this.targets.filter((t) => !t.error);
  }

  private fail(target: FanoutTarget, err: Error): void {
    if (target.error) return;
    target.error = err;
    this.onTargetError(target, err);
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, callback: (err?: Error | null) => void): void {
    this.writeToAll([chunk]).then(() => callback(), callback);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: (err?: Error | null) => void): void {
    this.writeToAll(chunks.map((c) => c.chunk)).then(() => callback(), callback);
  }

  private async writeToAll(chunks: Buffer[]): Promise<void> {
    for (const chunk of chunks) {
      this.hash.update(chunk);
      this.bytes += chunk.length;
    }
    const waits: Promise<void>[] = [];
    for (const target of this.live()) {
      let full = false;
      for (const chunk of chunks) full = !target.writable.write(chunk) || full;
      if (full) waits.push(this.drained(target));
    }
    await Promise.all(waits);
    if (this.live().length === 0) throw this.allFailed();
    // A target whose writes complete without I/O (an upload filling its next part) resolves
    // in microtasks, and the walker's chunks arrive in one drain of its message port: without
    // a turn the whole pipeline could run for a second with no timer, signal or progress line.
    this.sinceTurn += chunks.reduce((n, c) => n + c.length, 0);
    if (this.sinceTurn >= TURN_EVERY) {
      this.sinceTurn = 0;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  private async drained(target: FanoutTarget): Promise<void> {
    const ac = new AbortController();
    try {
      await Promise.race([once(target.writable, "drain", { signal: ac.signal }), once(target.writable, "close", { signal: ac.signal })]);
    } catch {
      // an 'error' event rejects once(); fail() has recorded it
    } finally {
      ac.abort();
    }
  }

  override _final(callback: (err?: Error | null) => void): void {
    this.sha256 = this.hash.digest("hex");
    Promise.all(
      this.live().map(async (target) => {
        target.writable.end();
        try {
          await once(target.writable, "finish");
        } catch (err) {
          this.fail(target, err as Error);
        }
      }),
    ).then(() => callback(this.live().length === 0 ? this.allFailed() : null), callback);
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    callback(err);
  }

  private allFailed(): Error {
    const reasons = this.targets.map((t) => `${t.name}: ${t.error?.message ?? "unknown"}`).join("; ");
    return new Error(`every destination failed (${reasons})`);
  }
}
