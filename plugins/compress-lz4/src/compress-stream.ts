/**
 * Compresses a stream as a series of standalone LZ4 frames, one per `chunkSize` bytes of input
 * (and, in a seekable archive, one more wherever the core ends a frame).
 * Concatenated frames are one valid stream for `lz4 -d`. lz4-napi's `compressFrame` runs on the
 * libuv thread pool, so a few chunks are compressed at once while the main thread keeps reading;
 * frames are still written in input order.
 */
import { Transform, type TransformCallback } from "node:stream";
import type { FrameCompressor, FrameOutput } from "@sov/core";
import { compressFrame } from "lz4-napi";

export interface Lz4CompressOptions {
  /** Input bytes per frame. */
  readonly chunkSize: number;
  /** Frames being compressed at once; memory is about (2 * this + 1) * chunkSize. */
  readonly framesInFlight?: number;
}

/**
 * LZ4 frames, a few compressed at once: the core's seekable archives end a frame where it
 * chooses (`endFrame`), and the plain stream below ends one every `chunkSize` bytes only. A
 * core frame is one or more LZ4 frames, which `lz4 -d` reads as one stream.
 */
export class Lz4Frames implements FrameCompressor {
  private readonly chunkSize: number;
  private readonly framesInFlight: number;
  /** The chunk being filled, and how much of it is. */
  private filling: Buffer | undefined;
  private filled = 0;
  /** LZ4 frames being compressed, oldest first, and whether each ends a core frame. */
  private readonly inFlight: Array<{ frame: Promise<Buffer>; endsFrame: boolean }> = [];
  private disposed = false;

  constructor(options: Lz4CompressOptions) {
    this.chunkSize = options.chunkSize;
    this.framesInFlight = Math.max(1, options.framesInFlight ?? 2);
  }

  async write(input: Buffer): Promise<FrameOutput> {
    const out: FrameOutput = [];
    let offset = 0;
    while (offset < input.length && !this.disposed) {
      this.filling ??= Buffer.allocUnsafe(this.chunkSize);
      const copied = input.copy(this.filling, this.filled, offset);
      offset += copied;
      this.filled += copied;
      // Waiting here, not only after the loop, keeps one large write from queuing many frames.
      if (this.filled === this.chunkSize) await this.startFrame(false, out);
    }
    return out;
  }

  /** Ends the core frame with what is buffered (an empty LZ4 frame if nothing is and `always`). */
  async endFrame(always = false): Promise<FrameOutput> {
    const out: FrameOutput = [];
    const last = this.inFlight.at(-1);
    if (this.filled > 0 || always || (last?.endsFrame ?? true)) await this.startFrame(true, out);
    else last!.endsFrame = true;
    return out;
  }

  async finish(): Promise<FrameOutput> {
    const out: FrameOutput = [];
    while (this.inFlight.length > 0) await this.takeOldest(out);
    return out;
  }

  dispose(): void {
    this.disposed = true;
    this.filling = undefined;
  }

  /** Starts compressing the chunk being filled, first making room for it; adds frames done meanwhile to `out`. */
  private async startFrame(endsFrame: boolean, out: FrameOutput): Promise<void> {
    const data = (this.filling ?? Buffer.alloc(0)).subarray(0, this.filled);
    this.filling = undefined;
    this.filled = 0;
    while (this.inFlight.length >= this.framesInFlight) await this.takeOldest(out);
    const frame = compressFrame(data, { contentChecksum: true });
    // A frame that fails while an older one is awaited is reported when its turn comes, not as
    // an unhandled rejection.
    frame.catch(() => {});
    this.inFlight.push({ frame, endsFrame });
  }

  private async takeOldest(out: FrameOutput): Promise<void> {
    const { frame, endsFrame } = this.inFlight.shift()!;
    out.push(await frame);
    if (endsFrame) out.push(null);
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
    this.frames
      .endFrame(!this.sawInput)
      .then(async (out) => [...out, ...(await this.frames.finish())])
      .then((out) => this.pushAll(out, callback), callback);
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.frames.dispose();
    callback(err);
  }

  private pushAll(out: FrameOutput, callback: TransformCallback): void {
    if (!this.destroyed) for (const frame of out) if (frame) this.push(frame);
    callback();
  }
}

export function createLz4CompressStream(options: Lz4CompressOptions): Transform {
  return new Lz4CompressStream(options);
}
