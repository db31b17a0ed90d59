/**
 * Writing headers: POSIX ustar blocks, with a PAX extended header in front when a value does not
 * fit (GNU tar reads and writes the same). Strings are byte strings (see byte-string.ts).
 */
import { NON_ASCII } from "./byte-string.js";
import { paxRecord, paxTime } from "./pax.js";
import {
  BLOCK_SIZE, CHKSUM, DEVMAJOR, DEVMINOR, type EntryType, type Field, GID, GNAME, LINKNAME, MAGIC, MODE, MTIME, NAME, PREFIX, SIZE, TYPE,
  TYPEFLAG, UID, UNAME,
} from "./tar-format.js";

/** What the writer knows about an entry. */
export interface EntryHeader {
  /** Relative to the archive root, no leading `/`; directories get a trailing `/` here. */
  name: string;
  type: EntryType;
  /** Permission bits, including setuid, setgid and sticky. */
  mode: number;
  uid: number;
  gid: number;
  /** Content bytes that follow the header: 0 for everything but regular files. */
  size: number;
  /** Seconds since the epoch; negative before 1970, fractional when known finer. */
  mtime: number;
  /** Symlink target or the name of the hardlink's first occurrence. */
  linkname?: string;
  uname?: string;
  gname?: string;
  devmajor?: number;
  devminor?: number;
}

const OCTAL_LIMIT = { 8: 8 ** 7, 12: 8 ** 11 } as const;

/** The header blocks for `entry`: 512 bytes, or a PAX header and its records first when needed. */
export function encodeHeader(entry: EntryHeader): Buffer {
  const records = paxRecordsFor(entry);
  const pax = records ? encodePaxHeader(entry, records) : Buffer.alloc(0);
  const out = Buffer.allocUnsafe(pax.length + BLOCK_SIZE);
  pax.copy(out);
  writeUstarHeader(out, pax.length, entry);
  return out;
}

/** The PAX records `entry` needs, concatenated: "" when the ustar block holds everything. */
export function paxRecordsFor(entry: EntryHeader): string {
  let records = "";
  const add = (key: string, value: string, fits: boolean) => {
    if (!fits || NON_ASCII.test(value)) records += paxRecord(key, value);
  };
  add("path", entry.name, splitName(entry.name) !== undefined);
  if (entry.linkname !== undefined) add("linkpath", entry.linkname, entry.linkname.length <= LINKNAME[1]);
  if (entry.uname !== undefined) add("uname", entry.uname, entry.uname.length < UNAME[1]);
  if (entry.gname !== undefined) add("gname", entry.gname, entry.gname.length < GNAME[1]);
  if (!fitsOctal(entry.uid, UID[1])) records += paxRecord("uid", String(entry.uid));
  if (!fitsOctal(entry.gid, GID[1])) records += paxRecord("gid", String(entry.gid));
  if (!fitsOctal(entry.size, SIZE[1])) records += paxRecord("size", String(entry.size));
  // the header holds whole seconds (base-256 before 1970, as GNU tar writes them); PAX adds
  // the fraction, and carries the value for readers that know no base-256
  if (!fitsOctal(entry.mtime, MTIME[1])) records += paxRecord("mtime", paxTime(entry.mtime));
  // a name that is not UTF-8 goes in raw, as GNU tar itself writes it: no `hdrcharset=BINARY`
  // record, which GNU tar 1.34 does not know and warns about on every read
  return records;
}

/** The extended header entry (typeflag `x`) carrying `records`, padded to whole blocks. */
export function encodePaxHeader(entry: EntryHeader, records: string): Buffer {
  const out = Buffer.alloc(BLOCK_SIZE + Math.ceil(records.length / BLOCK_SIZE) * BLOCK_SIZE);
  const base = entry.name.replace(/\/$/, "").split("/").pop() ?? "";
  writeBlock(out, 0, {
    name: `PaxHeaders/${base}`.slice(0, NAME[1]),
    type: "file",
    mode: 0o644,
    uid: 0,
    gid: 0,
    size: records.length,
    mtime: Math.max(0, Math.min(Math.floor(entry.mtime), OCTAL_LIMIT[12] - 1)),
  }, "x");
  out.write(records, BLOCK_SIZE, "latin1");
  return out;
}

/**
 * The ustar block for `entry` at `offset`; values that do not fit are cut short (or written
 * base-256) and belong in the PAX records written before it.
 */
export function writeUstarHeader(target: Uint8Array, offset: number, entry: EntryHeader): void {
  writeBlock(target, offset, entry, TYPEFLAG[entry.type]);
}

function writeBlock(out: Uint8Array, at: number, e: EntryHeader, typeflag: string): void {
  out.fill(0, at, at + BLOCK_SIZE);
  const [prefix, name] = splitName(e.name) ?? ["", e.name];
  // the checksum is the sum of the block's bytes, its own field read as eight spaces; every
  // other byte is zero, so it adds up what the writes return instead of reading 512 bytes back
  let sum = 8 * 0x20;
  sum += writeString(out, at, NAME, name);
  sum += writeNumber(out, at, MODE, e.mode & 0o7777);
  sum += writeNumber(out, at, UID, e.uid);
  sum += writeNumber(out, at, GID, e.gid);
  sum += writeNumber(out, at, SIZE, e.size);
  sum += writeNumber(out, at, MTIME, Math.floor(e.mtime));
  sum += writeString(out, at, TYPE, typeflag);
  if (e.linkname !== undefined) sum += writeString(out, at, LINKNAME, e.linkname);
  sum += writeString(out, at, MAGIC, "ustar\x0000");
  if (e.uname !== undefined) sum += writeString(out, at, UNAME, e.uname);
  if (e.gname !== undefined) sum += writeString(out, at, GNAME, e.gname);
  if (e.type === "chardev" || e.type === "blockdev") {
    sum += writeNumber(out, at, DEVMAJOR, e.devmajor ?? 0);
    sum += writeNumber(out, at, DEVMINOR, e.devminor ?? 0);
  }
  if (prefix) sum += writeString(out, at, PREFIX, prefix);
  writeString(out, at, CHKSUM, `${sum.toString(8).padStart(6, "0")}\x00 `);
}

/** Splits a long name into ustar's prefix and name at a `/`, or undefined when it cannot fit. */
function splitName(name: string): readonly [string, string] | undefined {
  if (name.length <= NAME[1]) return ["", name];
  // the first usable slash gives the longest name part; a directory's trailing slash stays in it
  for (let i = name.indexOf("/"); i !== -1 && i <= PREFIX[1]; i = name.indexOf("/", i + 1)) {
    const rest = name.length - i - 1;
    if (i > 0 && rest <= NAME[1] && rest > 0 && name.slice(i + 1) !== "/") return [name.slice(0, i), name.slice(i + 1)];
  }
  return undefined;
}

function fitsOctal(value: number, width: number): boolean {
  return value >= 0 && value < OCTAL_LIMIT[width as 8 | 12] && Number.isInteger(value);
}

/**
 * Zero-padded octal and a NUL; a value octal cannot hold goes base-256, big-endian two's
 * complement (GNU tar's form, read by every modern tar): 0x80 first for a large value, 0xff
 * for a negative one. Returns the sum of the bytes written, for the checksum.
 */
function writeNumber(out: Uint8Array, at: number, [offset, width]: Field, value: number): number {
  const start = at + offset;
  let sum = 0;
  if (fitsOctal(value, width)) {
    for (let i = start + width - 2; i >= start; i--) {
      out[i] = 0x30 + (value % 8);
      sum += out[i]!;
      value = Math.floor(value / 8);
    }
    return sum;
  }
  let rest = BigInt.asUintN(width * 8, BigInt(Math.trunc(value)));
  for (let i = start + width - 1; i >= start; i--, rest >>= 8n) {
    out[i] = Number(rest & 0xffn);
    if (i === start) out[i] = value < 0 ? 0xff : 0x80;
    sum += out[i]!;
  }
  return sum;
}

/** A byte string into a field, cut at the field's width (the block is zeroed: no NUL to add). Returns the byte sum. */
function writeString(out: Uint8Array, at: number, [offset, width]: Field, value: string): number {
  const n = Math.min(value.length, width);
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const byte = value.charCodeAt(i);
    out[at + offset + i] = byte;
    sum += byte;
  }
  return sum;
}
