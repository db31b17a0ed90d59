/**
 * Streaming LZ4 frame decoder. It reads what `lz4` writes (one frame of many blocks, linked or
 * independent, with or without checksums and content size) and what this plugin writes (many
 * frames back to back), skipping skippable frames. Memory stays bounded by one block (4 MiB at
 * most) plus a 64 KiB window, however large the frame: lz4-napi's `decompressFrame` would need
 * the whole frame in memory, so the framing is done here and only blocks go to native code.
 */
import { Transform, type TransformCallback } from "node:stream";
import { BLOCK_PREFIX_LENGTH, decompressBlock } from "./block.js";
import { ByteQueue } from "./byte-queue.js";
import {
  BLOCK_UNCOMPRESSED_FLAG,
  corrupt,
  descriptorLength,
  FRAME_MAGIC,
  type FrameDescriptor,
  LEGACY_MAGIC,
  Lz4FormatError,
  parseDescriptor,
  SKIPPABLE_MAGIC,
  SKIPPABLE_MAGIC_MASK,
  truncated,
  WINDOW_SIZE,
} from "./frame-format.js";
import { XxHash32, xxh32 } from "./xxhash32.js";

type State =
  | { kind: "magic" }
  | { kind: "descriptor" }
  | { kind: "blockSize" }
  | { kind: "blockData"; size: number; uncompressed: boolean }
  | { kind: "contentChecksum" }
  | { kind: "skippableSize" }
  | { kind: "skippableData"; remaining: number };

interface Frame {
  readonly descriptor: FrameDescriptor;
  readonly hash: XxHash32 | undefined;
  blocks: number;
  decoded: number;
  /** The last 64 KiB of this frame's output, kept only when blocks are linked. */
  window: Buffer | undefined;
}

export class Lz4DecodeStream extends Transform {
  private readonly input = new ByteQueue();
  private state: State = { kind: "magic" };
  private frame: Frame | undefined;
  /** Frames and skippable frames seen, to name them in errors. */
  private frames = 0;
  /** Input bytes parsed so far, to say where a problem is. */
  private position = 0;
  /** Set while parsing waits for the reader to make room. */
  private continueParsing: (() => void) | undefined;

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.input.push(chunk);
    this.parseAvailable(callback);
  }

  override _read(size: number): void {
    const continueParsing = this.continueParsing;
    this.continueParsing = undefined;
    continueParsing?.();
    // Unless parsing paused again (it pushed, so the reader is served), let Transform take the next
    // chunk: a _read() answered with no push would leave the readable side waiting forever.
    if (!this.continueParsing) super._read(size);
  }

  override _flush(callback: TransformCallback): void {
    if (this.frames === 0 && this.input.length === 0) {
      callback(truncated("the input is empty; even an empty archive holds one lz4 frame"));
    } else if (this.state.kind !== "magic" || this.input.length > 0) {
      callback(truncated(`it ends ${this.describeState()} after ${this.position + this.input.length} bytes`));
    } else {
      callback();
    }
  }

  /**
   * Parses what the input holds, then takes the next chunk. One small chunk can hold many highly
   * compressed blocks, so after a block the reader has no room for, parsing waits for `_read()`.
   */
  private parseAvailable(callback: TransformCallback): void {
    try {
      if (this.parse() === "paused") {
        this.continueParsing = () => this.parseAvailable(callback);
        return;
      }
    } catch (err) {
      callback(err as Error);
      return;
    }
    callback();
  }

  /** Consumes complete elements from the input, pushing decoded blocks, until it runs dry or the reader is full. */
  private parse(): "starved" | "paused" {
    for (;;) {
      const state = this.state;
      switch (state.kind) {
        case "magic": {
          if (this.input.length < 4) return "starved";
          const magic = this.takeInput(4).readUInt32LE(0);
          this.frames++;
          if (magic === FRAME_MAGIC) {
            this.state = { kind: "descriptor" };
          } else if ((magic & SKIPPABLE_MAGIC_MASK) === SKIPPABLE_MAGIC) {
            this.state = { kind: "skippableSize" };
          } else if (magic === LEGACY_MAGIC) {
            throw new Lz4FormatError(`lz4 legacy format (lz4 -l) is not supported; decode it with lz4 -d (${this.where(-4)})`);
          } else {
            const what = this.frames === 1 ? "not lz4 data" : "unexpected data after the last frame";
            throw corrupt(`${what}: magic number 0x${magic.toString(16).padStart(8, "0")}`, this.where(-4));
          }
          break;
        }
        case "descriptor": {
          if (this.input.length < 1) return "starved";
          const length = descriptorLength(this.input.peek(0));
          if (this.input.length < length) return "starved";
          const where = this.where(0);
          const descriptor = parseDescriptor(this.takeInput(length), where);
          this.frame = {
            descriptor,
            hash: descriptor.contentChecksum ? new XxHash32() : undefined,
            blocks: 0,
            decoded: 0,
            window: undefined,
          };
          this.state = { kind: "blockSize" };
          break;
        }
        case "blockSize": {
          if (this.input.length < 4) return "starved";
          const word = this.takeInput(4).readUInt32LE(0);
          if (word === 0) {
            this.endBlocks();
            break;
          }
          const size = (word & ~BLOCK_UNCOMPRESSED_FLAG) >>> 0;
          const frame = this.frame!;
          if (size > frame.descriptor.blockMaxSize) {
            throw corrupt(`block of ${size} bytes exceeds the frame's ${frame.descriptor.blockMaxSize}-byte maximum`, this.where(-4));
          }
          this.state = { kind: "blockData", size, uncompressed: (word & BLOCK_UNCOMPRESSED_FLAG) !== 0 };
          break;
        }
        case "blockData": {
          const frame = this.frame!;
          const checksumLength = frame.descriptor.blockChecksums ? 4 : 0;
          if (this.input.length < state.size + checksumLength) return "starved";
          const where = this.where(0);
          // One copy: out of the input chunks, into a buffer of our own with room for the block prefix.
          const block = Buffer.allocUnsafe(BLOCK_PREFIX_LENGTH + state.size);
          this.input.takeInto(block, BLOCK_PREFIX_LENGTH, state.size);
          this.position += state.size;
          if (checksumLength > 0 && this.takeInput(4).readUInt32LE(0) !== xxh32(block.subarray(BLOCK_PREFIX_LENGTH))) {
            throw corrupt(`block ${frame.blocks + 1} checksum mismatch`, where);
          }
          this.state = { kind: "blockSize" };
          if (!this.emitBlock(frame, block, state.uncompressed, where)) return "paused";
          break;
        }
        case "contentChecksum": {
          if (this.input.length < 4) return "starved";
          const where = this.where(0);
          const expected = this.takeInput(4).readUInt32LE(0);
          if (expected !== this.frame!.hash!.digest()) throw corrupt("content checksum mismatch", where);
          this.endFrame();
          break;
        }
        case "skippableSize": {
          if (this.input.length < 4) return "starved";
          this.state = { kind: "skippableData", remaining: this.takeInput(4).readUInt32LE(0) };
          break;
        }
        case "skippableData": {
          const dropped = this.input.skip(state.remaining);
          this.position += dropped;
          if (dropped < state.remaining) {
            this.state = { kind: "skippableData", remaining: state.remaining - dropped };
            return "starved";
          }
          this.state = { kind: "magic" };
          break;
        }
      }
    }
  }

  /** Decodes a block held in `block` after its prefix room and passes the output on; false when the reader is full. */
  private emitBlock(frame: Frame, block: Buffer, uncompressed: boolean, where: string): boolean {
    const { blockMaxSize, linkedBlocks } = frame.descriptor;
    let out: Buffer;
    if (uncompressed) {
      out = block.subarray(BLOCK_PREFIX_LENGTH);
    } else {
      try {
        out = decompressBlock(block, blockMaxSize, frame.window);
      } catch (err) {
        throw corrupt(`block ${frame.blocks + 1} does not decode (${err instanceof Error ? err.message : String(err)})`, where);
      }
    }
    frame.blocks++;
    frame.decoded += out.length;
    frame.hash?.update(out);
    if (linkedBlocks) frame.window = slideWindow(frame.window, out);
    return out.length === 0 || this.push(out);
  }

  private endBlocks(): void {
    const frame = this.frame!;
    const { contentSize, contentChecksum } = frame.descriptor;
    if (contentSize !== undefined && contentSize !== BigInt(frame.decoded)) {
      throw corrupt(`frame announces ${contentSize} bytes but decodes to ${frame.decoded}`, this.where(-4));
    }
    if (contentChecksum) this.state = { kind: "contentChecksum" };
    else this.endFrame();
  }

  private endFrame(): void {
    this.frame = undefined;
    this.state = { kind: "magic" };
  }

  private takeInput(n: number): Buffer {
    this.position += n;
    return this.input.take(n);
  }

  private where(delta: number): string {
    return `frame ${this.frames}, input byte ${this.position + delta}`;
  }

  private describeState(): string {
    const frame = this.frame;
    switch (this.state.kind) {
      case "magic":
        return "inside a frame's magic number";
      case "descriptor":
        return `inside frame ${this.frames}'s header`;
      case "blockSize":
      case "blockData":
        return `inside frame ${this.frames}'s block ${frame!.blocks + 1}`;
      case "contentChecksum":
        return `inside frame ${this.frames}'s content checksum`;
      case "skippableSize":
      case "skippableData":
        return `inside skippable frame ${this.frames}`;
    }
  }
}

/** The last 64 KiB of output, as a buffer of its own so it does not pin a whole block. */
function slideWindow(window: Buffer | undefined, out: Buffer): Buffer {
  if (out.length >= WINDOW_SIZE) return Buffer.from(out.subarray(out.length - WINDOW_SIZE));
  const joined = window ? Buffer.concat([window, out]) : Buffer.from(out);
  return joined.length > WINDOW_SIZE ? joined.subarray(joined.length - WINDOW_SIZE) : joined;
}

export function createLz4DecodeStream(): Transform {
  return new Lz4DecodeStream();
}
