/**
 * Reading headers: one 512-byte block at a time, then the entry it makes with the GNU long names
 * and PAX records that preceded it. Names stay byte strings (see byte-string.ts), so a file name
 * that is not UTF-8 is restored byte for byte, as GNU tar does.
 */
import {
  BLOCK_SIZE, CHKSUM, DEVMAJOR, DEVMINOR, ENTRY_TYPE_OF_FLAG, type EntryType, type Field, GID, GNAME, LINKNAME, MAGIC, MODE, MTIME, NAME,
  PREFIX, SIZE, TarFormatError, TYPE, UID, UNAME,
} from "./tar-format.js";

/** An entry as read: every field present (empty when the archive has none). */
export interface TarEntry {
  /** As stored (after GNU long names and PAX `path`), a byte string. */
  name: string;
  /** Hard link target or symlink target, a byte string; "" when none. */
  linkname: string;
  type: EntryType | "unsupported";
  /** The header's type flag character, for messages. */
  typeflag: string;
  mode: number;
  uid: number;
  gid: number;
  /** Owner names, byte strings; "" when the archive has none. */
  uname: string;
  gname: string;
  /** Bytes of data that follow the header (for files: the content). */
  size: number;
  /** Seconds since the epoch; negative before 1970, fractional when a PAX header gave more precision. */
  mtime: number;
  devmajor: number;
  devminor: number;
  /** Why an `unsupported` entry cannot be restored. */
  unsupported?: string;
  /** Where the entry's first header starts in the tar stream. */
  offset: number;
}

/** A header block's fields, before long names and PAX records are applied. */
export interface RawHeader {
  name: string;
  linkname: string;
  typeflag: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  uname: string;
  gname: string;
  devmajor: number;
  devminor: number;
  /** GNU sparse headers ('S') with more sparse map blocks following. */
  sparseExtended: boolean;
}

const ZERO_BLOCK = Buffer.alloc(BLOCK_SIZE);

export function isZeroBlock(block: Buffer): boolean {
  // a header's name starts at its first byte: only a block that starts with NUL needs comparing
  return block[0] === 0 && block.equals(ZERO_BLOCK);
}

function cString(block: Buffer, field: Field): string {
  if (block[field[0]] === 0) return ""; // most link names, and absent owner names
  return block.toString("latin1", field[0], cStringEnd(block, field));
}

/** Where a NUL-terminated field's string ends: at its NUL, or at the field's end without one. */
function cStringEnd(block: Buffer, [start, length]: Field): number {
  const end = block.indexOf(0, start);
  return end === -1 || end > start + length ? start + length : end;
}

/** The string last made for an owner-name field, and its bytes: the same few names repeat entry after entry. */
class RepeatedName {
  private readonly bytes: Buffer;
  private length = -1;
  private text = "";

  constructor(private readonly field: Field) {
    this.bytes = Buffer.alloc(field[1]);
  }

  /** The field as cString reads it, without making a string when it holds the previous header's bytes. */
  read(block: Buffer): string {
    const start = this.field[0];
    const end = cStringEnd(block, this.field);
    const length = end - start;
    if (length === this.length) {
      let i = 0;
      while (i < length && block[start + i] === this.bytes[i]) i++;
      if (i === length) return this.text;
    }
    block.copy(this.bytes, 0, start, end);
    this.length = length;
    this.text = block.toString("latin1", start, end);
    return this.text;
  }
}

const unames = new RepeatedName(UNAME);
const gnames = new RepeatedName(GNAME);

/** Octal digits (space or NUL padded), or GNU's base-256 for values that do not fit. */
function numeric(block: Buffer, [start, length]: Field, what: string, offset: number, signed = false): number {
  const first = block[start]!;
  if (first & 0x80) {
    // base-256, big-endian, two's complement: 0x80 marks a positive value, 0xff a negative one
    // (GNU tar's mtime of a file from before 1970)
    let value = BigInt(first & 0x7f);
    for (let i = start + 1; i < start + length; i++) value = (value << 8n) | BigInt(block[i]!);
    if (first === 0xff) value = BigInt.asIntN(length * 8 - 1, value);
    if (value < 0n && !signed) throw new TarFormatError(`negative ${what} in the tar header at byte ${offset}`);
    if (value > BigInt(Number.MAX_SAFE_INTEGER) || value < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw new TarFormatError(`${what} too large in the tar header at byte ${offset}`);
    }
    return Number(value);
  }
  let i = start;
  const end = start + length;
  while (i < end && (block[i] === 0x20 || block[i] === 0)) i++;
  let value = 0;
  let digits = 0;
  for (; i < end; i++) {
    const c = block[i]!;
    if (c >= 0x30 && c <= 0x37) {
      value = value * 8 + (c - 0x30);
      digits++;
    } else if (c === 0x20 || c === 0) {
      break;
    } else {
      throw new TarFormatError(`invalid ${what} in the tar header at byte ${offset}`);
    }
  }
  for (; i < end; i++) {
    if (block[i] !== 0x20 && block[i] !== 0) throw new TarFormatError(`invalid ${what} in the tar header at byte ${offset}`);
  }
  return digits ? value : 0;
}

/**
 * The stored checksum against the block's byte sum with the checksum field counted as spaces.
 * POSIX sums unsigned bytes; some old tars summed signed ones, which only differs when a byte is
 * over 127, so the signed sum is only computed when the unsigned one does not match.
 */
function checksumMatches(block: Buffer, offset: number): boolean {
  let stored: number;
  try {
    stored = numeric(block, CHKSUM, "checksum", offset);
  } catch {
    return false;
  }
  const [from, width] = CHKSUM;
  const sum = byteSum(block);
  let field = 0;
  for (let i = from; i < from + width; i++) field += block[i]!;
  const unsigned = sum - field + width * 0x20;
  if (stored === unsigned) return true;
  let high = 0;
  for (let i = 0; i < BLOCK_SIZE; i++) if ((i < from || i >= from + width) && block[i]! > 127) high++;
  return stored === unsigned - 256 * high;
}

/** A DataView of the buffer the last block was in: headers come many to a chunk. */
let view: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));

/** The sum of a block's 512 bytes, four at a time: two bytes' lanes per 32-bit word, which cannot overflow in one block. */
function byteSum(block: Buffer): number {
  if (view.buffer !== block.buffer) view = new DataView(block.buffer);
  let even = 0;
  let odd = 0;
  for (let at = block.byteOffset, end = at + BLOCK_SIZE; at < end; at += 4) {
    const word = view.getUint32(at, true);
    even += word & 0x00ff00ff;
    odd += (word >>> 8) & 0x00ff00ff;
  }
  return (even & 0xffff) + (even >>> 16) + (odd & 0xffff) + (odd >>> 16);
}

/**
 * Which of a header's strings decodeHeader makes, beyond the name: restore needs them all;
 * verify has no use for owner names; the seek index keeps neither link names nor owners.
 */
export type HeaderStrings = "all" | "no-owners" | "name";

/**
 * Decodes a non-zero header block; throws TarFormatError when it is not a valid header. The
 * strings `strings` leaves out are empty, which spares a reader that does not need them a string
 * per field; every field is still checked as restore checks it, so every reader accepts exactly
 * the headers restore's does.
 */
export function decodeHeader(block: Buffer, offset: number, strings: HeaderStrings = "all"): RawHeader {
  if (!checksumMatches(block, offset)) {
    throw new TarFormatError(`tar header checksum mismatch at byte ${offset}: the tar stream is corrupt`);
  }
  const typeflag = String.fromCharCode(block[TYPE[0]]!);
  const m = MAGIC[0];
  const isUstar = block[m] === 0x75 && block[m + 1] === 0x73 && block[m + 2] === 0x74 && block[m + 3] === 0x61 && block[m + 4] === 0x72;
  let name = cString(block, NAME);
  // POSIX ustar ("ustar\0") keeps long names' leading directories in `prefix`; GNU's format
  // ("ustar ") uses that space for other fields, so the prefix only counts with the POSIX magic
  if (isUstar && block[m + 5] === 0 && block[PREFIX[0]] !== 0) name = `${cString(block, PREFIX)}/${name}`;
  const owners = isUstar && strings === "all";
  return {
    name,
    linkname: strings === "name" ? "" : cString(block, LINKNAME),
    typeflag,
    mode: numeric(block, MODE, "mode", offset) & 0o7777,
    uid: numeric(block, UID, "uid", offset),
    gid: numeric(block, GID, "gid", offset),
    size: numeric(block, SIZE, "size", offset),
    mtime: numeric(block, MTIME, "mtime", offset, true),
    uname: owners ? unames.read(block) : "",
    gname: owners ? gnames.read(block) : "",
    devmajor: isUstar ? numeric(block, DEVMAJOR, "devmajor", offset) : 0,
    devminor: isUstar ? numeric(block, DEVMINOR, "devminor", offset) : 0,
    sparseExtended: isUstar && block[m + 5] === 0x20 && typeflag === "S" && block[482] !== 0,
  };
}

const UNSUPPORTED: Readonly<Record<string, string>> = {
  S: "GNU sparse file (tar -S) is not supported; extract this file with GNU tar",
  M: "multi-volume continuation is not supported",
  N: "old GNU long-name entry is not supported",
};

/** Builds the entry from a header plus the long names and PAX records that preceded it. */
export function makeEntry(
  raw: RawHeader,
  longName: string | null,
  longLink: string | null,
  pax: ReadonlyMap<string, Buffer>,
  offset: number,
): TarEntry {
  if (pax.size === 0) return plainEntry(raw, longName, longLink, offset);
  const paxBytes = (key: string) => pax.get(key)?.toString("latin1");
  const paxNumber = (key: string, fallback: number) => {
    const text = paxBytes(key);
    if (text === undefined || text === "") return fallback;
    const value = Number(text);
    if (!Number.isFinite(value)) throw new TarFormatError(`PAX ${key}=${text} is not a number at byte ${offset}`);
    return value;
  };
  const entry = plainEntry(
    {
      ...raw,
      size: paxNumber("size", raw.size),
      uid: paxNumber("uid", raw.uid),
      gid: paxNumber("gid", raw.gid),
      uname: paxBytes("uname") ?? raw.uname,
      gname: paxBytes("gname") ?? raw.gname,
      mtime: paxNumber("mtime", raw.mtime),
    },
    paxBytes("path") || longName,
    paxBytes("linkpath") || longLink,
    offset,
  );
  if ([...pax.keys()].some((k) => k.startsWith("GNU.sparse."))) {
    entry.type = "unsupported";
    entry.unsupported = UNSUPPORTED.S;
  }
  return entry;
}

/** The entry of a header with no PAX records (the common case, kept free of allocations). */
function plainEntry(raw: RawHeader, longName: string | null, longLink: string | null, offset: number): TarEntry {
  const name = longName || raw.name;
  let type: TarEntry["type"] = ENTRY_TYPE_OF_FLAG[raw.typeflag] ?? "unsupported";
  if ((raw.typeflag === "\0" || raw.typeflag === "0") && name.endsWith("/")) type = "directory";
  const size = raw.size;
  if (!Number.isSafeInteger(size) || size < 0) throw new TarFormatError(`invalid size in the tar header at byte ${offset}`);
  const entry: TarEntry = {
    name,
    linkname: longLink || raw.linkname,
    type,
    typeflag: raw.typeflag,
    mode: raw.mode,
    uid: raw.uid,
    gid: raw.gid,
    uname: raw.uname,
    gname: raw.gname,
    size,
    mtime: raw.mtime,
    devmajor: raw.devmajor,
    devminor: raw.devminor,
    offset,
  };
  if (type === "unsupported") entry.unsupported = UNSUPPORTED[raw.typeflag] ?? `unknown entry type '${printable(raw.typeflag)}'`;
  return entry;
}

function printable(flag: string): string {
  const code = flag.charCodeAt(0);
  return code >= 0x20 && code < 0x7f ? flag : `\\x${code.toString(16).padStart(2, "0")}`;
}
