/**
 * Compresses a stream as a series of standalone LZ4 frames, one per `chunkSize` bytes of input
 * (and, in a seekable archive, one more wherever the core ends a frame).
 * Concatenated frames are one valid stream for `lz4 -d`. lz4-napi's `compressFrame` runs on the
 * libuv thread pool, so a few chunks are compressed at once while the main thread keeps reading;
 * frames are still written in input order.
 */
import { Transform, type TransformCallback } from "node:stream";
import type { FrameCompressor } from "@sov/core";
import { compressFrame } from "lz4-napi";

export interface Lz4CompressOptions {
  /** Input bytes per frame. */
  readonly chunkSize: number;
  /** Frames being compressed at once; memory is about (2 * this + 1) * chunkSize. */
  readonly framesInFlight?: number;
}

/**
 * LZ4 frames, a few compressed at once: the core's seekable archives end a frame where it
 * chooses (`endFrame`), and the plain stream below ends one every `chunkSize` bytes only.
 */
export class Lz4Frames implements FrameCompressor {
  private readonly chunkSize: number;
  private readonly framesInFlight: number;
  /** The chunk being filled, and how much of it is. */
  private filling: Buffer | undefined;
  private filled = 0;
  /** Frames being compressed, oldest first. */
  private readonly inFlight: Promise<Buffer>[] = [];
  private disposed = false;

  constructor(options: Lz4CompressOptions) {
    this.chunkSize = options.chunkSize;
    this.framesInFlight = Math.max(1, options.framesInFlight ?? 2);
  }

  async write(input: Buffer): Promise<Buffer[]> {
    const out: Buffer[] = [];
    let offset = 0;
    while (offset < input.length && !this.disposed) {
      this.filling ??= Buffer.allocUnsafe(this.chunkSize);
      const copied = input.copy(this.filling, this.filled, offset);
      offset += copied;
      this.filled += copied;
      // Waiting here, not only after the loop, keeps one large write from queuing many frames.
      if (this.filled === this.chunkSize) out.push(...(await this.startFrame()));
    }
    return out;
  }

  /** Compresses what is buffered as one last frame (an empty one if `always`), then waits for all. */
  async endFrame(always = false): Promise<Buffer[]> {
    const out = this.filled > 0 || always ? await this.startFrame() : [];
    while (this.inFlight.length > 0) out.push(await this.inFlight.shift()!);
    return out;
  }

  dispose(): void {
    this.disposed = true;
    this.filling = undefined;
  }

  /** Starts compressing the chunk being filled, first making room for it; returns frames done meanwhile. */
  private async startFrame(): Promise<Buffer[]> {
    const data = (this.filling ?? Buffer.alloc(0)).subarray(0, this.filled);
    this.filling = undefined;
    this.filled = 0;
    const done: Buffer[] = [];
    while (this.inFlight.length >= this.framesInFlight) done.push(await this.inFlight.shift()!);
    const frame = compressFrame(data, { contentChecksum: true });
    // A frame that fails while an older one is awaited is reported when its turn comes, not as
    // an unhandled rejection.
    frame.catch(() => {});
    this.inFlight.push(frame);
    return done;
  }
}

export class Lz4CompressStream extends Transform {
  private readonly frames: Lz4Frames;
  private sawInput = false;

  constructor(options: Lz4CompressOptions) {
    super();
    this.frames = new Lz4Frames(options);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (chunk.length > 0) this.sawInput = true;
    this.frames.write(chunk).then((out) => this.pushAll(out, callback), callback);
  }

  override _flush(callback: TransformCallback): void {
    // An empty input still gets a frame, so the output is a recognisable lz4 stream.
    this.frames.endFrame(!this.sawInput).then((out) => this.pushAll(out, callback), callback);
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.frames.dispose();
    callback(err);
  }

  private pushAll(out: Buffer[], callback: TransformCallback): void {
    if (!this.destroyed) for (const frame of out) this.push(frame);
    callback();
  }
}

export function createLz4CompressStream(options: Lz4CompressOptions): Transform {
  return new Lz4CompressStream(options);
}
