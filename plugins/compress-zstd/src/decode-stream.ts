/**
 * zstd decoding that waits for its reader. zstd-napi's DecompressStream pushes every output
 * block of a chunk at once, ignoring backpressure, so a small archive holding a long run of
 * zeros (what sov writes for a sparse or zeroed file) grew restore to gigabytes (issue 16).
 * Here a chunk is decoded one block at a time, and decoding pauses whenever the readable side
 * is full, until the consumer asks for more: memory stays at a few blocks whatever the ratio.
 */
import { Transform, type TransformCallback } from "node:stream";
import binding from "zstd-napi/binding.js";

/** ZSTD_DStreamOutSize(): one full block (128 KiB), the size zstd itself recommends. */
const OUTPUT_BLOCK = binding.dStreamOutSize();
/** Decoded bytes buffered for the reader before decoding pauses. */
const READABLE_BUFFER = 1 << 20;

export class ZstdDecodeStream extends Transform {
  private readonly dctx = new binding.DCtx();
  /** The decoder stopped inside a frame: the stream must not end there. */
  private inFrame = false;
  /** The chunk being decoded, and its callback, while decoding waits for the reader. */
  private input: Buffer | null = null;
  private inputDone: TransformCallback | null = null;
  private waitingForReader = false;

  constructor() {
    super({ readableHighWaterMark: READABLE_BUFFER });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.input = chunk;
    this.inputDone = done;
    this.decode();
  }

  override _read(size: number): void {
    if (this.waitingForReader) {
      this.waitingForReader = false;
      this.decode();
    }
    super._read(size);
  }

  override _flush(done: TransformCallback): void {
    done(this.inFrame ? new Error("the zstd stream ends in the middle of a frame (truncated archive)") : null);
  }

  /** Decodes the current chunk until it is used up, or until the reader has enough for now. */
  private decode(): void {
    try {
      for (;;) {
        const output = Buffer.allocUnsafe(OUTPUT_BLOCK);
        const [remaining, produced, consumed] = this.dctx.decompressStream(output, this.input!);
        this.input = this.input!.subarray(consumed);
        const wantsMore = produced > 0 ? this.push(output.subarray(0, produced)) : true;
        // the chunk is done once it is all read and the decoder holds nothing more to flush
        if (this.input.length === 0 && (produced < output.length || remaining === 0)) {
          this.inFrame = remaining !== 0;
          this.finishChunk(null);
          return;
        }
        if (!wantsMore) {
          this.waitingForReader = true;
          return;
        }
      }
    } catch (err) {
      this.finishChunk(err as Error);
    }
  }

  private finishChunk(err: Error | null): void {
    const done = this.inputDone!;
    this.input = null;
    this.inputDone = null;
    done(err);
  }
}

export function createZstdDecodeStream(): Transform {
  return new ZstdDecodeStream();
}
