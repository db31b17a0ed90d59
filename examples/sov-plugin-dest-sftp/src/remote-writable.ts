import { Writable } from "node:stream";
import type { SftpConnection } from "./connection.js";

/** 32 KiB: the write size every SFTP server must accept. */
const PIECE = 32 * 1024;
/** Requests in flight at once: enough to fill a long fat pipe, bounded memory (2 MiB). */
const MAX_IN_FLIGHT = 64;

/**
 * A Writable over an open remote file handle. Writes are pipelined (many SFTP WRITE requests in
 * flight, each at its own offset) because one request at a time is limited by the round trip;
 * `final` waits until the server has acknowledged every byte. The first failed request fails
 * the stream, and so does the connection going away.
 */
export class RemoteFileWritable extends Writable {
  /** Bytes the server has acknowledged. */
  bytesWritten = 0;
  private offset = 0;
  private inFlight = 0;
  private failure: Error | undefined;
  private wakeUp: (() => void) | undefined;
  private readonly unsubscribe: () => void;

  constructor(
    private readonly conn: SftpConnection,
    private readonly handle: Buffer,
    /** What the errors call it: the archive's name. */
    private readonly path: string,
    /** Runs once every byte is acknowledged, before 'finish' (fsync and close the handle). */
    private readonly beforeFinish: () => Promise<void> = async () => {},
  ) {
    super({ highWaterMark: 1 << 20 });
    this.unsubscribe = conn.onClose((err) => this.fail(new Error(`upload of ${path} broke off: ${err.message}`)));
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, callback: (err?: Error | null) => void): void {
    this.send([chunk]).then(() => callback(), callback);
  }

  override _writev(chunks: Array<{ chunk: Buffer }>, callback: (err?: Error | null) => void): void {
    this.send(chunks.map((c) => c.chunk)).then(() => callback(), callback);
  }

  override _final(callback: (err?: Error | null) => void): void {
    this.settle(0)
      .then(() => this.beforeFinish())
      .then(() => {
        // Every byte is acknowledged and durable: the connection closing from now on is the publish's business.
        this.unsubscribe();
        callback();
      }, callback);
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.unsubscribe();
    this.failure ??= err ?? new Error(`upload of ${this.path} was stopped`);
    this.wakeUp?.();
    callback(err);
  }

  private async send(buffers: Buffer[]): Promise<void> {
    for (const buffer of buffers) {
      for (let at = 0; at < buffer.length; at += PIECE) {
        await this.settle(MAX_IN_FLIGHT - 1);
        this.request(buffer.subarray(at, at + PIECE));
      }
    }
    if (this.failure) throw this.failure;
  }

  private request(piece: Buffer): void {
    const position = this.offset;
    this.offset += piece.length;
    this.inFlight++;
    try {
      this.conn.sftp.write(this.handle, piece, 0, piece.length, position, (err) => {
        this.inFlight--;
        if (err) this.fail(new Error(`upload of ${this.path} failed at byte ${position}: ${err.message}`));
        else this.bytesWritten += piece.length;
        this.wakeUp?.();
      });
    } catch (err) {
      this.inFlight--;
      this.fail(err as Error);
    }
  }

  /** Waits until at most `limit` requests are in flight; throws the first failure. */
  private async settle(limit: number): Promise<void> {
    while (!this.failure && this.inFlight > limit) {
      await new Promise<void>((resolve) => (this.wakeUp = resolve));
      this.wakeUp = undefined;
    }
    if (this.failure) throw this.failure;
  }

  /** The first failure wins; the stream errors at once, not at the next write, so the core sees it. */
  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    if (this.wakeUp) this.wakeUp();
    else if (!this.destroyed && !this.writableFinished) process.nextTick(() => this.destroy(err));
  }
}
