/**
 * Compresses a stream as a series of standalone LZ4 frames, one per `chunkSize` bytes of input.
 * Concatenated frames are one valid stream for `lz4 -d`. lz4-napi's `compressFrame` runs on the
 * libuv thread pool, so a few chunks are compressed at once while the main thread keeps reading;
 * frames are still written in input order.
 */
import { Transform, type TransformCallback } from "node:stream";
import { compressFrame } from "lz4-napi";

export interface Lz4CompressOptions {
  /** Input bytes per frame. */
  readonly chunkSize: number;
  /** Frames being compressed at once; memory is about (2 * this + 1) * chunkSize. */
  readonly framesInFlight?: number;
}

export class Lz4CompressStream extends Transform {
  private readonly chunkSize: number;
  private readonly framesInFlight: number;
  /** The chunk being filled, and how much of it is. */
  private filling: Buffer | undefined;
  private filled = 0;
  /** Frames being compressed, oldest first. */
  private readonly inFlight: Promise<Buffer>[] = [];
  private sawInput = false;

  constructor(options: Lz4CompressOptions) {
    super();
    this.chunkSize = options.chunkSize;
    this.framesInFlight = Math.max(1, options.framesInFlight ?? 2);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.consume(chunk).then(() => callback(), callback);
  }

  override _flush(callback: TransformCallback): void {
    this.finish().then(() => callback(), callback);
  }

  private async consume(chunk: Buffer): Promise<void> {
    if (chunk.length > 0) this.sawInput = true;
    let offset = 0;
    while (offset < chunk.length && !this.destroyed) {
      this.filling ??= Buffer.allocUnsafe(this.chunkSize);
      const copied = chunk.copy(this.filling, this.filled, offset);
      offset += copied;
      this.filled += copied;
      if (this.filled === this.chunkSize) {
        // Waiting here, not only after the loop, keeps one large write from queuing many frames.
        await this.startFrame(this.filling);
        this.filling = undefined;
        this.filled = 0;
      }
    }
  }

  private async finish(): Promise<void> {
    // An empty input still gets a frame, so the output is a recognisable lz4 stream.
    if (this.filled > 0 || !this.sawInput) {
      await this.startFrame((this.filling ?? Buffer.alloc(0)).subarray(0, this.filled));
      this.filling = undefined;
      this.filled = 0;
    }
    while (this.inFlight.length > 0) await this.emitOldest();
  }

  /** Starts compressing `data` (which must not change afterwards), first making room for it. */
  private async startFrame(data: Buffer): Promise<void> {
    while (this.inFlight.length >= this.framesInFlight) await this.emitOldest();
    const frame = compressFrame(data, { contentChecksum: true });
    // A frame that fails while an older one is awaited is reported when its turn comes, not as
    // an unhandled rejection.
    frame.catch(() => {});
    this.inFlight.push(frame);
  }

  private async emitOldest(): Promise<void> {
    const frame = await this.inFlight.shift()!;
    if (!this.destroyed) this.push(frame);
  }
}

export function createLz4CompressStream(options: Lz4CompressOptions): Transform {
  return new Lz4CompressStream(options);
}
