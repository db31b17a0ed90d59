/**
 * A seekable archive's index: where each compressed frame starts, and where each entry is in
 * the tar. It travels as the last frame of the compressed stream, a skippable frame (magic
 * 0x184D2A5E, which zstd and lz4 both define as "skip me"), inside the age encryption: stock
 * tools decompress the archive exactly as before and never see it, and names never leak.
 *
 *   skippable frame = u32le magic | u32le payload length | payload
 *   payload         = compressed body | footer
 *   footer (16)     = u32le compressed body length | u32le version | "sov-seek"
 *
 * Version 2 (what sov writes): the body is brotli-compressed (quality 4) and holds the entries
 * in columns, so that like values sit together:
 *
 *   body = varint entries, varint endOfEntries (the tar offset of the end-of-archive marker),
 *          varint frames, per frame varint tar length and varint compressed length;
 *          then per entry u8 type; per entry varint gap (the bytes between the end of the
 *          previous entry's data, counted as if it had one header block, and this entry's
 *          first header: 0 unless an entry has extended headers); per entry varint mode;
 *          per entry varint size; per entry zigzag varint mtime (whole seconds) less the
 *          previous entry's; per entry varint bytes shared with the previous name and varint
 *          suffix length; then every suffix, back to back (names are byte strings, as the
 *          tar holds them)
 *
 * On the 200,000-file bench corpus that is 0.7 MB where version 1 took 1.95 MB (2% of the
 * archive), and compressing it costs 35 ms of CPU instead of 220.
 *
 * Version 1 (what sov wrote before, still read): the body is deflate-raw, entry by entry:
 * u8 type, varint offset delta, varint mode, varint size, zigzag varint mtime, varint shared,
 * varint suffix length, suffix bytes; then u8 0xff, varint endOfEntries, the frames as above.
 *
 * Frames cover the compressed stream from byte 0 up to this frame, and the tar from byte 0.
 * Everything read back is checked: a damaged or lying index is refused (SeekIndexError), and
 * restore then reads the archive whole.
 */
import { promisify } from "node:util";
import { brotliCompress, brotliCompressSync, brotliDecompressSync, constants as zlibConstants, inflateRawSync } from "node:zlib";
import type { TarEntry } from "./tar-decode.js";
import { BLOCK_SIZE, paddedSize } from "./tar-format.js";

const brotliCompressAsync = promisify(brotliCompress);
/** How the index body is compressed, by either path: quality 4 is brotli's fastest that still matches across entries. */
const BROTLI = { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 4 } };

export const SKIPPABLE_MAGIC = 0x184d2a5e;
const FOOTER_MAGIC = Buffer.from("sov-seek", "latin1");
export const SEEK_FOOTER_SIZE = 16;
/** The version sov writes; READABLE, the versions it reads. */
const VERSION = 2;
const READABLE = [1, 2];
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
  // the body's columns, each filled as entries come (see the format above)
  private readonly types = new ByteWriter();
  private readonly gaps = new ByteWriter();
  private readonly modes = new ByteWriter();
  private readonly sizes = new ByteWriter();
  private readonly mtimes = new ByteWriter();
  private readonly nameLengths = new ByteWriter();
  private readonly suffixes = new ByteWriter();
  private readonly frames: Array<[tarLength: number, compLength: number]> = [];
  private count = 0;
  /** Where the previous entry's data ends, counted as if it had one header block. */
  private previousEnd = 0;
  private previousMtime = 0;
  private previousName = "";

  /** Adds the next entry; a fractional `mtime` is kept in whole seconds, as indexedEntry does. */
  addEntry(e: IndexedEntry): void {
    const mtime = Math.floor(e.mtime);
    this.types.byte(TYPES.indexOf(e.type));
    this.gaps.varint(e.offset - this.previousEnd);
    this.modes.varint(e.mode);
    this.sizes.varint(e.size);
    this.mtimes.zigzag(mtime - this.previousMtime);
    // names are byte strings (a char per byte): the shared prefix and the new part are counted
    // and written char by char, without a Buffer per name
    const name = e.name;
    const shared = commonPrefix(this.previousName, name);
    this.nameLengths.varint(shared);
    this.nameLengths.varint(name.length - shared);
    this.suffixes.latin1(name, shared);
    this.count++;
    this.previousEnd = e.offset + BLOCK_SIZE + paddedSize(e.size);
    this.previousMtime = mtime;
    this.previousName = name;
  }

  addFrame(tarLength: number, compLength: number): void {
    this.frames.push([tarLength, compLength]);
  }

  /** The whole skippable frame. */
  finish(endOfEntries: number): Buffer {
    const body = this.body(endOfEntries);
    return indexFrame(brotliCompressSync(body, brotliOptions(body)));
  }

  /** The same, compressed on the thread pool: 200,000 entries took the event loop 0.1 s. */
  async finishAsync(endOfEntries: number): Promise<Buffer> {
    const body = this.body(endOfEntries);
    return indexFrame(await brotliCompressAsync(body, brotliOptions(body)));
  }

  /** The counts, the end of entries and the frames, then the columns: what is compressed. */
  private body(endOfEntries: number): Buffer {
    const head = new ByteWriter(64 + 16 * this.frames.length);
    head.varint(this.count);
    head.varint(endOfEntries);
    head.varint(this.frames.length);
    for (const [tarLength, compLength] of this.frames) {
      head.varint(tarLength);
      head.varint(compLength);
    }
    const columns = [this.types, this.gaps, this.modes, this.sizes, this.mtimes, this.nameLengths, this.suffixes];
    return Buffer.concat([head, ...columns].map((c) => c.result()));
  }
}

function brotliOptions(body: Buffer) {
  return { params: { ...BROTLI.params, [zlibConstants.BROTLI_PARAM_SIZE_HINT]: body.length } };
}

/** The skippable frame around a compressed index body, with its footer. */
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
  if (!READABLE.includes(tail.readUInt32LE(4))) return null;
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

/** Growable columns: made for the count when it is known (version 2), else doubled as entries come. */
class Columns {
  offsets: Float64Array;
  sizes: Float64Array;
  mtimes: Float64Array;
  modes: Uint16Array;
  types: Uint8Array;
  /** Where each name ends in `names`, which holds them all back to back. */
  nameEnds: Uint32Array;
  names = Buffer.allocUnsafe(64 * 1024);

  constructor(entries: number) {
    this.offsets = new Float64Array(entries);
    this.sizes = new Float64Array(entries);
    this.mtimes = new Float64Array(entries);
    this.modes = new Uint16Array(entries);
    this.types = new Uint8Array(entries);
    this.nameEnds = new Uint32Array(entries);
  }

  room(entries: number): void {
    if (entries <= this.offsets.length) return;
    const grow = <T extends Float64Array | Uint16Array | Uint8Array | Uint32Array>(a: T): T => {
      const bigger = new (a.constructor as new (n: number) => T)(Math.max(entries, a.length * 2));
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

  roomForNames(bytes: number): void {
    if (bytes <= this.names.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(bytes, this.names.length * 2));
    this.names.copy(bigger);
    this.names = bigger;
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
  const version = frame.readUInt32LE(frame.length - SEEK_FOOTER_SIZE + 4);
  if (!READABLE.includes(version)) throw new SeekIndexError(`the index is of version ${version}, which this sov does not read`);
  const payload = frame.subarray(FRAME_HEADER_SIZE, frame.length - SEEK_FOOTER_SIZE);
  let body: Buffer;
  try {
    const limit = { maxOutputLength: MAX_BODY_BYTES };
    body = version === 1 ? inflateRawSync(payload, limit) : brotliDecompressSync(payload, limit);
  } catch (err) {
    throw new SeekIndexError(`the index does not decompress: ${err instanceof Error ? err.message : String(err)}`);
  }
  const r = new ByteReader(body);
  let read: IndexBody;
  try {
    read = version === 1 ? readRows(r) : readColumns(r);
  } catch (err) {
    // columns for the count an index claims may not fit in memory: that index cannot be used
    if (err instanceof RangeError) throw new SeekIndexError(`the index is too large to read: ${err.message}`);
    throw err;
  }
  const { count, columns: c, endOfEntries, frames } = read;
  if (!r.done) throw new SeekIndexError("the index has bytes after its last entry");
  const tarEnd = frames.length ? frames[frames.length - 1]!.tarStart + frames[frames.length - 1]!.tarLength : 0;
  const compEnd = frames.length ? frames[frames.length - 1]!.compStart + frames[frames.length - 1]!.compLength : 0;
  if (compEnd !== frameStart) throw new SeekIndexError(`the frames cover ${compEnd} compressed bytes, but the index starts at byte ${frameStart}`);
  if (endOfEntries % BLOCK_SIZE !== 0 || endOfEntries > tarEnd) throw new SeekIndexError(`the end of the entries (${endOfEntries}) is not inside the ${tarEnd}-byte tar`);
  for (let i = 0; i < count; i++) {
    const end = i + 1 < count ? c.offsets[i + 1]! : endOfEntries;
    if (end - c.offsets[i]! < BLOCK_SIZE + paddedSize(c.sizes[i]!)) {
      throw new SeekIndexError(`entry ${i} (${c.sizes[i]} bytes) does not fit between byte ${c.offsets[i]} and ${end}`);
    }
  }
  return new DecodedSeekIndex(frames, endOfEntries, count, c);
}

interface IndexBody {
  count: number;
  columns: Columns;
  endOfEntries: number;
  frames: SeekFrame[];
}

/** A version 2 body: counts and frames, then the entries' columns. */
function readColumns(r: ByteReader): IndexBody {
  // every entry takes at least 7 bytes: its type, gap, mode, size, mtime and two name lengths
  const count = r.count(7);
  const endOfEntries = r.varint();
  const frames = readFrames(r);
  // each entry has a header block before the end of the entries: checked before the columns are made
  if (count * BLOCK_SIZE > endOfEntries) throw new SeekIndexError(`the index claims ${count} entries before byte ${endOfEntries}`);
  const c = new Columns(count);
  for (let i = 0; i < count; i++) {
    const code = r.byte();
    if (TYPES[code] === undefined) throw new SeekIndexError(`entry ${i} has an unknown type`);
    c.types[i] = code;
  }
  for (let i = 0; i < count; i++) c.offsets[i] = r.varint(); // the gaps, until the sizes are known
  for (let i = 0; i < count; i++) c.modes[i] = checkedMode(r.varint(), i);
  let end = 0;
  for (let i = 0; i < count; i++) {
    const size = r.varint();
    const offset = end + c.offsets[i]!;
    end = offset + BLOCK_SIZE + paddedSize(size);
    if (offset % BLOCK_SIZE !== 0 || !Number.isSafeInteger(end)) throw new SeekIndexError(`entry ${i} is malformed`);
    c.offsets[i] = offset;
    c.sizes[i] = size;
  }
  let mtime = 0;
  for (let i = 0; i < count; i++) {
    const zz = r.varint();
    mtime += zz % 2 === 0 ? zz / 2 : -(zz + 1) / 2;
    c.mtimes[i] = mtime;
  }
  const lengths = new Float64Array(2 * count);
  let nameBytes = 0;
  for (let i = 0; i < 2 * count; i++) nameBytes += lengths[i] = r.varint();
  if (nameBytes > MAX_BODY_BYTES) throw new SeekIndexError(`the names take more than ${MAX_BODY_BYTES} bytes`);
  c.roomForNames(nameBytes);
  const names = new NameBuilder(c);
  for (let i = 0; i < count; i++) names.add(i, lengths[2 * i]!, lengths[2 * i + 1]!, r);
  return { count, columns: c, endOfEntries, frames };
}

/** A version 1 body: the entries one after the other, then the end of entries and the frames. */
function readRows(r: ByteReader): IndexBody {
  const c = new Columns(1024);
  const names = new NameBuilder(c);
  let count = 0;
  let offset = 0;
  for (let code = r.byte(); code !== END_OF_ENTRIES; code = r.byte(), count++) {
    const i = count;
    if (TYPES[code] === undefined) throw new SeekIndexError(`entry ${i} has an unknown type`);
    const delta = r.varint();
    if (i > 0 && delta === 0) throw new SeekIndexError(`entries ${i - 1} and ${i} start at the same byte`);
    offset += delta;
    const mode = checkedMode(r.varint(), i);
    const size = r.varint();
    const zz = r.varint();
    if (offset % BLOCK_SIZE !== 0) throw new SeekIndexError(`entry ${i} is malformed`);
    c.room(i + 1);
    names.add(i, r.varint(), r.varint(), r);
    c.offsets[i] = offset;
    c.types[i] = code;
    c.modes[i] = mode;
    c.sizes[i] = size;
    c.mtimes[i] = zz % 2 === 0 ? zz / 2 : -(zz + 1) / 2;
  }
  const endOfEntries = r.varint();
  return { count, columns: c, endOfEntries, frames: readFrames(r) };
}

function readFrames(r: ByteReader): SeekFrame[] {
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
  return frames;
}

function checkedMode(mode: number, i: number): number {
  if (mode > 0o7777) throw new SeekIndexError(`entry ${i} is malformed`);
  return mode;
}

/** Each name is the previous one's first `shared` bytes and a new part, written after it. */
class NameBuilder {
  private previousStart = 0;
  private previousLength = 0;
  private end = 0;

  constructor(private readonly c: Columns) {}

  add(i: number, shared: number, suffixLength: number, r: ByteReader): void {
    if (shared > this.previousLength) throw new SeekIndexError(`entry ${i} shares more of its name than the previous one has`);
    const length = shared + suffixLength;
    if (length === 0) throw new SeekIndexError(`entry ${i} is malformed`);
    if (this.end + length > MAX_BODY_BYTES) throw new SeekIndexError(`the names take more than ${MAX_BODY_BYTES} bytes`);
    const c = this.c;
    c.roomForNames(this.end + length);
    c.names.copyWithin(this.end, this.previousStart, this.previousStart + shared);
    r.copyTo(c.names, this.end + shared, suffixLength);
    this.previousStart = this.end;
    this.previousLength = length;
    this.end += length;
    c.nameEnds[i] = this.end;
  }
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
  private buf: Buffer;
  private length = 0;

  constructor(initialSize = 64 * 1024) {
    this.buf = Buffer.allocUnsafe(initialSize);
  }

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

  /** A signed safe integer, zigzagged: 0, -1, 1, -2 ... as 0, 1, 2, 3 ... */
  zigzag(n: number): void {
    this.varint(n >= 0 ? n * 2 : -n * 2 - 1);
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
