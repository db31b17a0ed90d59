/**
 * Seekable archives: the compressed stream as independent frames cut at entry boundaries, and
 * an index of frames and entries in a skippable frame at its end (see archive/seek-index.ts).
 * `age -d | zstd -d | tar -x` reads such an archive exactly as a plain one: the frames
 * concatenate to the same tar and the index frame is skipped. Restore uses the index to list an
 * archive without reading it and to fetch only the frames that hold the entries asked for.
 */
import { Transform, type TransformCallback } from "node:stream";
import { SeekIndexWriter, TarScanner } from "./archive/index.js";
import type { Compressor, FrameCompressor, FrameOutput } from "./plugin.js";

/**
 * A frame ends at the first entry that starts after this many bytes of tar, or at twice this
 * inside a large file. On the 1 GiB bench corpus, 8 MiB frames cost 0.3% of archive size
 * (4 MiB: 1.3%), and one small file is at most a few MiB of reading.
 */
export const FRAME_TARGET = 8 * 1024 * 1024;

/**
 * The compressor's stream, seekable when the compressor can write frames. `recycle` gets every
 * input chunk back once the frame compressor has taken its bytes (see ArchiveSource.recycle).
 */
export function createArchiveCompressStream(compressor: Compressor, recycle?: (chunk: Buffer) => void): Transform {
  const frames = compressor.createFrameCompressor?.();
  return frames ? new SeekableCompressStream(frames, FRAME_TARGET, recycle) : compressor.createCompressStream();
}

export class SeekableCompressStream extends Transform {
  private readonly index = new SeekIndexWriter();
  private readonly scanner: TarScanner;
  /** Entry starts the scanner found that the frames have not passed yet. */
  private readonly starts: number[] = [];
  private tarOffset = 0;
  private frameTarStart = 0;
  /** Tar lengths of the frames ended whose compressed end has not come back yet, oldest first. */
  private readonly framesOut: number[] = [];
  private frameCompBytes = 0;
  private disposed = false;

  constructor(
    private readonly frames: FrameCompressor,
    private readonly target = FRAME_TARGET,
    private readonly recycle?: (chunk: Buffer) => void,
  ) {
    super();
    this.scanner = new TarScanner((entry) => {
      this.index.addEntry(entry);
      this.starts.push(entry.offset);
    });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.consume(chunk).then(() => callback(), callback);
  }

  override _flush(callback: TransformCallback): void {
    this.finish().then(() => callback(), callback);
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.dispose();
    callback(err);
  }

  private dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.frames.dispose();
  }

  private async consume(chunk: Buffer): Promise<void> {
    // Scanned first, so the entries that start in this chunk are known before it is cut.
    if (this.scanner.result.state === "entries") this.scanner.push(chunk);
    const chunkStart = this.tarOffset;
    const chunkEnd = chunkStart + chunk.length;
    let at = chunkStart;
    for (let cut = this.nextCut(chunkEnd); cut !== null; cut = this.nextCut(chunkEnd)) {
      await this.compress(chunk.subarray(at - chunkStart, cut - chunkStart));
      at = cut;
      this.tarOffset = cut;
      await this.endFrame();
    }
    await this.compress(chunk.subarray(at - chunkStart));
    this.tarOffset = chunkEnd;
    // The scanner and the frame compressor both copied what they keep.
    this.recycle?.(chunk);
  }

  /** Where the current frame ends inside the tar up to `limit`, or null if not before it. */
  private nextCut(limit: number): number | null {
    const due = this.frameTarStart + this.target;
    while (this.starts.length > 0 && this.starts[0]! < Math.max(due, this.tarOffset)) this.starts.shift();
    const forced = this.frameTarStart + 2 * this.target;
    const atEntry = this.starts[0];
    if (atEntry !== undefined && atEntry <= Math.min(limit, forced)) return atEntry;
    return forced <= limit ? forced : null;
  }

  private async compress(bytes: Buffer): Promise<void> {
    if (bytes.length === 0) return;
    this.pushAll(await this.frames.write(bytes));
  }

  private async endFrame(): Promise<void> {
    this.framesOut.push(this.tarOffset - this.frameTarStart);
    this.frameTarStart = this.tarOffset;
    this.pushAll(await this.frames.endFrame());
  }

  private pushAll(output: FrameOutput): void {
    for (const b of output) {
      if (b === null) {
        const tarLength = this.framesOut.shift();
        if (tarLength === undefined) throw new Error("the compressor ended more frames than it was asked to");
        this.index.addFrame(tarLength, this.frameCompBytes);
        this.frameCompBytes = 0;
      } else if (b.length > 0) {
        this.frameCompBytes += b.length;
        this.push(b);
      }
    }
  }

  /**
   * The last frame, then the index, if the tar ended as a tar should and every entry could be
   * indexed; otherwise the archive is still complete, and restore reads it whole.
   */
  private async finish(): Promise<void> {
    if (this.tarOffset > this.frameTarStart) await this.endFrame();
    this.pushAll(await this.frames.finish());
    this.dispose();
    if (this.framesOut.length > 0) throw new Error(`the compressor did not finish ${this.framesOut.length} frame(s)`);
    const scan = this.scanner.result;
    if (scan.state === "end") this.push(await this.index.finishAsync(scan.offset));
  }
}
