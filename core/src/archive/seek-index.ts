/**
 * A seekable archive's index: where each compressed frame starts, and where each entry is in
 * the tar. It travels as the last frame of the compressed stream, a skippable frame (magic
 * 0x184D2A5E, which zstd and lz4 both define as "skip me"), inside the age encryption: stock
 * tools decompress the archive exactly as before and never see it, and names never leak.
 *
 *   skippable frame = u32le magic | u32le payload length | payload
 *   payload         = deflate-raw(body) | footer
 *   footer (16)     = u32le deflated body length | u32le version | "sov-seek"
 *   body            = per entry: u8 type, varint offset delta, varint mode, varint size, zigzag
 *                     varint mtime (whole seconds), varint bytes shared with the previous name,
 *                     varint suffix length, suffix bytes (the name as a byte string, as the tar
 *                     holds it); then u8 0xff, varint endOfEntries (the tar offset of the
 *                     end-of-archive marker), varint frames, per frame varint tar length and
 *                     varint compressed length
 *
 * Entries come first so the writer can add each one as the tar goes by, holding a few dozen
 * bytes per entry rather than the entries themselves.
 *
 * Frames cover the compressed stream from byte 0 up to this frame, and the tar from byte 0.
 * Everything read back is checked: a damaged or lying index is refused (SeekIndexError), and
 * restore then reads the archive whole.
 */
import { promisify } from "node:util";
import { deflateRaw, deflateRawSync, inflateRawSync } from "node:zlib";
import type { TarEntry } from "./tar-decode.js";
import { BLOCK_SIZE, paddedSize } from "./tar-format.js";

const deflateRawAsync = promisify(deflateRaw);
/** How the index body is deflated, by either path. */
const DEFLATE = { level: 6 };

export const SKIPPABLE_MAGIC = 0x184d2a5e;
const FOOTER_MAGIC = Buffer.from("sov-seek", "latin1");
export const SEEK_FOOTER_SIZE = 16;
const VERSION = 1;
/** A frame header (magic, length) before the payload. */
const FRAME_HEADER_SIZE = 8;
/** An index that inflates past this is refused: a 1,000,000-entry tree needs about 60 MiB. */
const MAX_BODY_BYTES = 512 * 1024 * 1024;

const TYPES = ["file", "hardlink", "symlink", "chardev", "blockdev", "directory", "fifo", "unsupported"] as const;
export type IndexedType = (typeof TYPES)[number];

export interface SeekFrame {
  readonly tarStart: number;
  readonly tarLength: number;
  readonly compStart: number;
  readonly compLength: number;
}

export interface IndexedEntry {
  /** Where the entry's first header block starts in the tar. */
  readonly offset: number;
  /** The name as a byte string, as the tar holds it (after long names and PAX paths). */
  readonly name: string;
  readonly type: IndexedType;
  readonly mode: number;
  readonly size: number;
  /** Whole seconds since the epoch. */
  readonly mtime: number;
}

export interface SeekIndex {
  readonly frames: readonly SeekFrame[];
  readonly entries: readonly IndexedEntry[];
  /** The tar offset of the end-of-archive marker: the last entry ends there. */
  readonly endOfEntries: number;
}

export class SeekIndexError extends Error {
  override readonly name = "SeekIndexError";
}

/** The entry as the index keeps it. */
export function indexedEntry(entry: TarEntry): IndexedEntry {
  return { offset: entry.offset, name: entry.name, type: entry.type, mode: entry.mode, size: entry.size, mtime: Math.floor(entry.mtime) };
}

const END_OF_ENTRIES = 0xff;

/** Builds the index as the archive is written: entries as the tar goes by, frames as they end. */
export class SeekIndexWriter {
  private readonly out = new ByteWriter();
  private readonly frames: Array<[tarLength: number, compLength: number]> = [];
  private previousOffset = 0;
  private previousName = "";

  /** Adds the next entry; a fractional `mtime` is kept in whole seconds, as indexedEntry does. */
  addEntry(e: IndexedEntry): void {
    const out = this.out;
    const mtime = Math.floor(e.mtime);
    out.byte(TYPES.indexOf(e.type));
    out.varint(e.offset - this.previousOffset);
    out.varint(e.mode);
    out.varint(e.size);
    out.varint(mtime >= 0 ? mtime * 2 : -mtime * 2 - 1);
    // names are byte strings (a char per byte): the shared prefix and the new part are counted
    // and written char by char, without a Buffer per name
    const name = e.name;
    const shared = commonPrefix(this.previousName, name);
    out.varint(shared);
    out.varint(name.length - shared);
    out.latin1(name, shared);
    this.previousOffset = e.offset;
    this.previousName = name;
  }

  addFrame(tarLength: number, compLength: number): void {
    this.frames.push([tarLength, compLength]);
  }

  /** The whole skippable frame. */
  finish(endOfEntries: number): Buffer {
    return indexFrame(deflateRawSync(this.body(endOfEntries), DEFLATE));
  }

  /** The same, compressed on the thread pool: 200,000 entries took the event loop 0.1 s. */
  async finishAsync(endOfEntries: number): Promise<Buffer> {
    return indexFrame(await deflateRawAsync(this.body(endOfEntries), DEFLATE));
  }

  /** The entries written so far, then the end of entries and the frames: what is deflated. */
  private body(endOfEntries: number): Buffer {
    const out = this.out;
    out.byte(END_OF_ENTRIES);
    out.varint(endOfEntries);
    out.varint(this.frames.length);
    for (const [tarLength, compLength] of this.frames) {
      out.varint(tarLength);
      out.varint(compLength);
    }
    return out.result();
  }
}

/** The skippable frame around a deflated index body, with its footer. */
function indexFrame(body: Buffer): Buffer {
  const footer = Buffer.alloc(SEEK_FOOTER_SIZE);
  footer.writeUInt32LE(body.length, 0);
  footer.writeUInt32LE(VERSION, 4);
  FOOTER_MAGIC.copy(footer, 8);
  const header = Buffer.alloc(FRAME_HEADER_SIZE);
  header.writeUInt32LE(SKIPPABLE_MAGIC, 0);
  header.writeUInt32LE(body.length + SEEK_FOOTER_SIZE, 4);
  return Buffer.concat([header, body, footer]);
}

/** The whole skippable frame for `index` (what SeekIndexWriter makes, in one call). */
export function encodeSeekIndex(index: SeekIndex): Buffer {
  const writer = new SeekIndexWriter();
  for (const e of index.entries) writer.addEntry(e);
  for (const f of index.frames) writer.addFrame(f.tarLength, f.compLength);
  return writer.finish(index.endOfEntries);
}

/**
 * From the last SEEK_FOOTER_SIZE bytes of a compressed stream: how many bytes the whole index
 * frame takes at its end, or null when the stream has no index (an archive from before indexes,
 * or one written without).
 */
export function seekFrameLength(tail: Buffer): number | null {
  if (tail.length !== SEEK_FOOTER_SIZE || !tail.subarray(8).equals(FOOTER_MAGIC)) return null;
  if (tail.readUInt32LE(4) !== VERSION) return null;
  return FRAME_HEADER_SIZE + tail.readUInt32LE(0) + SEEK_FOOTER_SIZE;
}

/**
 * A decoded index, kept in columns rather than as one object per entry: an archive of a million
 * files is read for one of them, and its index alone would be a million objects to build and
 * collect. `name(i)` and `entry(i)` make what is asked for.
 */
export class DecodedSeekIndex implements SeekIndex {
  #entries: IndexedEntry[] | undefined;

  constructor(
    readonly frames: readonly SeekFrame[],
    readonly endOfEntries: number,
    readonly count: number,
    private readonly columns: Columns,
  ) {}

  offset(i: number): number {
    return this.columns.offsets[i]!;
  }

  /** Where entry `i` ends: where the next one starts, or the end-of-archive marker. */
  end(i: number): number {
    return i + 1 < this.count ? this.columns.offsets[i + 1]! : this.endOfEntries;
  }

  name(i: number): string {
    const ends = this.columns.nameEnds;
    return this.columns.names.toString("latin1", i === 0 ? 0 : ends[i - 1], ends[i]);
  }

  entry(i: number): IndexedEntry {
    const c = this.columns;
    return { offset: c.offsets[i]!, name: this.name(i), type: TYPES[c.types[i]!]!, mode: c.modes[i]!, size: c.sizes[i]!, mtime: c.mtimes[i]! };
  }

  /** Every entry as an object (for a whole listing, or to write a changed index). */
  get entries(): readonly IndexedEntry[] {
    this.#entries ??= Array.from({ length: this.count }, (_, i) => this.entry(i));
    return this.#entries;
  }
}

/** Growable columns: doubled as entries come, trimmed once the count is known. */
class Columns {
  offsets = new Float64Array(1024);
  sizes = new Float64Array(1024);
  mtimes = new Float64Array(1024);
  modes = new Uint16Array(1024);
  types = new Uint8Array(1024);
  /** Where each name ends in `names`, which holds them all back to back. */
  nameEnds = new Uint32Array(1024);
  names = Buffer.allocUnsafe(64 * 1024);

  room(entries: number, nameBytes: number): void {
    if (entries > this.offsets.length) {
      const grow = <T extends Float64Array | Uint16Array | Uint8Array | Uint32Array>(a: T): T => {
        const bigger = new (a.constructor as new (n: number) => T)(a.length * 2);
        bigger.set(a);
        return bigger;
      };
      this.offsets = grow(this.offsets);
      this.sizes = grow(this.sizes);
      this.mtimes = grow(this.mtimes);
      this.modes = grow(this.modes);
      this.types = grow(this.types);
      this.nameEnds = grow(this.nameEnds);
    }
    if (nameBytes > this.names.length) {
      const bigger = Buffer.allocUnsafe(Math.max(nameBytes, this.names.length * 2));
      this.names.copy(bigger);
      this.names = bigger;
    }
  }
}

/**
 * Reads and checks the index frame that ends the compressed stream at `frameStart` + its
 * length. Throws SeekIndexError for anything inconsistent.
 */
export function decodeSeekIndex(frame: Buffer, frameStart: number): DecodedSeekIndex {
  if (frame.length < FRAME_HEADER_SIZE + SEEK_FOOTER_SIZE || frame.readUInt32LE(0) !== SKIPPABLE_MAGIC || frame.readUInt32LE(4) !== frame.length - FRAME_HEADER_SIZE) {
    throw new SeekIndexError("the index frame's header does not match its footer");
  }
  let body: Buffer;
  try {
    body = inflateRawSync(frame.subarray(FRAME_HEADER_SIZE, frame.length - SEEK_FOOTER_SIZE), { maxOutputLength: MAX_BODY_BYTES });
  } catch (err) {
    throw new SeekIndexError(`the index does not inflate: ${err instanceof Error ? err.message : String(err)}`);
  }
  const r = new ByteReader(body);
  const c = new Columns();
  let count = 0;
  let offset = 0;
  // each name is the previous one's first `shared` bytes and a new part, written after it
  let previousStart = 0;
  let previousLength = 0;
  let namesEnd = 0;
  for (let code = r.byte(); code !== END_OF_ENTRIES; code = r.byte(), count++) {
    const i = count;
    if (TYPES[code] === undefined) throw new SeekIndexError(`entry ${i} has an unknown type`);
    const delta = r.varint();
    if (i > 0 && delta === 0) throw new SeekIndexError(`entries ${i - 1} and ${i} start at the same byte`);
    offset += delta;
    const mode = r.varint();
    const size = r.varint();
    const zz = r.varint();
    const shared = r.varint();
    if (shared > previousLength) throw new SeekIndexError(`entry ${i} shares more of its name than the previous one has`);
    const suffixLength = r.varint();
    const length = shared + suffixLength;
    if (offset % BLOCK_SIZE !== 0 || length === 0 || mode > 0o7777) throw new SeekIndexError(`entry ${i} is malformed`);
    c.room(i + 1, namesEnd + length);
    c.names.copyWithin(namesEnd, previousStart, previousStart + shared);
    r.copyTo(c.names, namesEnd + shared, suffixLength);
    previousStart = namesEnd;
    previousLength = length;
    namesEnd += length;
    c.offsets[i] = offset;
    c.types[i] = code;
    c.modes[i] = mode;
    c.sizes[i] = size;
    c.mtimes[i] = zz % 2 === 0 ? zz / 2 : -(zz + 1) / 2;
    c.nameEnds[i] = namesEnd;
  }
  const endOfEntries = r.varint();
  const frames: SeekFrame[] = [];
  let tarStart = 0;
  let compStart = 0;
  for (let n = r.count(2), i = 0; i < n; i++) {
    const tarLength = r.varint();
    const compLength = r.varint();
    if (tarLength <= 0 || compLength <= 0) throw new SeekIndexError(`frame ${i} is empty`);
    frames.push({ tarStart, tarLength, compStart, compLength });
    tarStart += tarLength;
    compStart += compLength;
  }
  if (compStart !== frameStart) throw new SeekIndexError(`the frames cover ${compStart} compressed bytes, but the index starts at byte ${frameStart}`);
  if (endOfEntries % BLOCK_SIZE !== 0 || endOfEntries > tarStart) throw new SeekIndexError(`the end of the entries (${endOfEntries}) is not inside the ${tarStart}-byte tar`);
  if (!r.done) throw new SeekIndexError("the index has bytes after its last entry");
  for (let i = 0; i < count; i++) {
    const end = i + 1 < count ? c.offsets[i + 1]! : endOfEntries;
    if (end - c.offsets[i]! < BLOCK_SIZE + paddedSize(c.sizes[i]!)) {
      throw new SeekIndexError(`entry ${i} (${c.sizes[i]} bytes) does not fit between byte ${c.offsets[i]} and ${end}`);
    }
  }
  return new DecodedSeekIndex(frames, endOfEntries, count, c);
}

/** The frames holding tar bytes [start, end): indexes into `frames`, first and last. */
export function framesCovering(frames: readonly SeekFrame[], start: number, end: number): [number, number] {
  const find = (offset: number) => {
    let lo = 0;
    let hi = frames.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (frames[mid]!.tarStart <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  };
  return [find(start), find(Math.max(start, end - 1))];
}

function commonPrefix(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a.charCodeAt(i) === b.charCodeAt(i)) i++;
  return i;
}

class ByteWriter {
  private buf = Buffer.allocUnsafe(64 * 1024);
  private length = 0;

  private room(n: number): void {
    if (this.length + n <= this.buf.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.length + n));
    this.buf.copy(bigger, 0, 0, this.length);
    this.buf = bigger;
  }

  byte(b: number): void {
    this.room(1);
    this.buf[this.length++] = b;
  }

  /** LEB128 of a non-negative safe integer, with arithmetic: bitwise operators stop at 32 bits. */
  varint(n: number): void {
    if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`cannot index the value ${n}`);
    this.room(8);
    while (n >= 0x80) {
      this.buf[this.length++] = (n % 0x80) | 0x80;
      n = Math.floor(n / 0x80);
    }
    this.buf[this.length++] = n;
  }

  /** A byte string's chars from `from` on, a byte each (a name's new part: a few bytes, where a loop beats a call into C++). */
  latin1(s: string, from: number): void {
    this.room(s.length - from);
    const buf = this.buf;
    let at = this.length;
    for (let i = from; i < s.length; i++) buf[at++] = s.charCodeAt(i);
    this.length = at;
  }

  result(): Buffer {
    return this.buf.subarray(0, this.length);
  }
}

class ByteReader {
  private at = 0;
  constructor(private readonly buf: Buffer) {}

  get done(): boolean {
    return this.at === this.buf.length;
  }

  byte(): number {
    if (this.at >= this.buf.length) throw new SeekIndexError("the index ends early");
    return this.buf[this.at++]!;
  }

  varint(): number {
    let n = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      const b = this.byte();
      n += (b & 0x7f) * scale;
      if (b < 0x80) {
        if (!Number.isSafeInteger(n)) break;
        return n;
      }
      scale *= 0x80;
    }
    throw new SeekIndexError("the index holds a number too large");
  }

  /** A count of records that each take at least `minBytes`: no more than the bytes left allow. */
  count(minBytes: number): number {
    const n = this.varint();
    if (n * minBytes > this.buf.length - this.at) throw new SeekIndexError(`the index claims ${n} records in ${this.buf.length - this.at} bytes`);
    return n;
  }

  /** The next `n` bytes, copied into `target` at `at`. */
  copyTo(target: Buffer, at: number, n: number): void {
    if (this.at + n > this.buf.length) throw new SeekIndexError("the index ends early");
    // a name's new part is a few bytes: a loop beats a call into Buffer.copy at that size
    if (n < 64) for (let i = 0; i < n; i++) target[at + i] = this.buf[this.at + i]!;
    else this.buf.copy(target, at, this.at, this.at + n);
    this.at += n;
  }

}
