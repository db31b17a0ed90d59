/**
 * One 512-byte tar header block, decoded. Names stay raw bytes held in a "binary" string (one
 * char per byte, latin1), so a file name that is not UTF-8 is restored byte for byte, as GNU tar
 * does; `displayName` turns it into text for messages.
 */
export const BLOCK = 512;

export type EntryType = "file" | "hardlink" | "symlink" | "chardev" | "blockdev" | "directory" | "fifo" | "unsupported";

export interface TarEntry {
  /** As stored (after GNU long names and PAX `path`), raw bytes as a binary string. */
  name: string;
  /** Hard link target or symlink target, raw bytes as a binary string; "" when none. */
  linkname: string;
  type: EntryType;
  /** The header's type flag character, for messages. */
  typeflag: string;
  mode: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  /** Bytes of data that follow the header (for files: the content). */
  size: number;
  /** Seconds since the epoch; fractional when a PAX header gave more precision. */
  mtime: number;
  devmajor: number;
  devminor: number;
  /** Why an `unsupported` entry cannot be restored. */
  unsupported?: string;
  /** Where the entry's first header starts in the tar stream. */
  offset: number;
}

export class TarFormatError extends Error {
  override name = "TarFormatError";
}

/** A raw header before long names and PAX records are applied. */
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

const ZERO_BLOCK = Buffer.alloc(BLOCK);

export function isZeroBlock(block: Buffer): boolean {
  return block.equals(ZERO_BLOCK);
}

export function displayName(binary: string): string {
  return Buffer.from(binary, "latin1").toString("utf8");
}

/** Text a person typed (UTF-8) as the binary string an archive name is compared with. */
export function toBinary(text: string): string {
  return Buffer.from(text, "utf8").toString("latin1");
}

function cString(block: Buffer, start: number, length: number): string {
  const end = block.indexOf(0, start);
  return block.toString("latin1", start, end === -1 || end > start + length ? start + length : end);
}

/** Octal digits (space or NUL padded), or GNU's base-256 for values that do not fit. */
function numeric(block: Buffer, start: number, length: number, what: string, offset: number, signed = false): number {
  const first = block[start]!;
  if (first & 0x80) {
    // Base-256, big-endian, two's complement: 0x80 marks a positive value, 0xff a negative one
    // (GNU tar's mtime of a file from before 1970).
    let value = BigInt(first & 0x7f);
    for (let i = start + 1; i < start + length; i++) value = (value << 8n) | BigInt(block[i]!);
    if (first === 0xff) value = BigInt.asIntN((length * 8) - 1, value);
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

function checksumMatches(block: Buffer, offset: number): boolean {
  let stored: number;
  try {
    stored = numeric(block, 148, 8, "checksum", offset);
  } catch {
    return false;
  }
  let unsigned = 8 * 0x20;
  let signed = 8 * 0x20;
  for (let i = 0; i < BLOCK; i++) {
    if (i >= 148 && i < 156) continue;
    const b = block[i]!;
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  return stored === unsigned || stored === signed;
}

/** Decodes a non-zero header block; throws TarFormatError when it is not a valid header. */
export function decodeHeader(block: Buffer, offset: number): RawHeader {
  if (!checksumMatches(block, offset)) {
    throw new TarFormatError(`tar header checksum mismatch at byte ${offset}: the tar stream is corrupt`);
  }
  const typeflag = String.fromCharCode(block[156]!);
  const magic = block.toString("latin1", 257, 263);
  let name = cString(block, 0, 100);
  // POSIX ustar keeps long names' leading directories in `prefix`; GNU's format uses that space
  // for other fields, so the prefix only counts with the POSIX magic.
  if (magic === "ustar\0" && block[345] !== 0) name = `${cString(block, 345, 155)}/${name}`;
  const isGnu = magic === "ustar ";
  return {
    name,
    linkname: cString(block, 157, 100),
    typeflag,
    mode: numeric(block, 100, 8, "mode", offset) & 0o7777,
    uid: numeric(block, 108, 8, "uid", offset),
    gid: numeric(block, 116, 8, "gid", offset),
    size: numeric(block, 124, 12, "size", offset),
    mtime: numeric(block, 136, 12, "mtime", offset, true),
    uname: magic.startsWith("ustar") ? Buffer.from(cString(block, 265, 32), "latin1").toString("utf8") : "",
    gname: magic.startsWith("ustar") ? Buffer.from(cString(block, 297, 32), "latin1").toString("utf8") : "",
    devmajor: magic.startsWith("ustar") ? numeric(block, 329, 8, "devmajor", offset) : 0,
    devminor: magic.startsWith("ustar") ? numeric(block, 337, 8, "devminor", offset) : 0,
    sparseExtended: isGnu && typeflag === "S" && block[482] !== 0,
  };
}

/** PAX extended header records (`<len> <key>=<value>\n`), values kept as raw bytes. */
export function parsePax(data: Buffer, offset: number): Map<string, Buffer> {
  const records = new Map<string, Buffer>();
  let i = 0;
  while (i < data.length) {
    if (data[i] === 0) break; // NUL padding after the last record
    const space = data.indexOf(0x20, i);
    if (space === -1 || space - i > 20) throw new TarFormatError(`malformed PAX header at byte ${offset}`);
    const length = Number(data.toString("latin1", i, space));
    if (!Number.isSafeInteger(length) || length <= space - i + 1 || i + length > data.length || data[i + length - 1] !== 0x0a) {
      throw new TarFormatError(`malformed PAX header at byte ${offset}`);
    }
    const record = data.subarray(space + 1, i + length - 1);
    const eq = record.indexOf(0x3d);
    if (eq <= 0) throw new TarFormatError(`malformed PAX record at byte ${offset}`);
    records.set(record.toString("latin1", 0, eq), record.subarray(eq + 1));
    i += length;
  }
  return records;
}

const TYPES: Readonly<Record<string, EntryType>> = {
  "0": "file",
  "\0": "file",
  "7": "file",
  "1": "hardlink",
  "2": "symlink",
  "3": "chardev",
  "4": "blockdev",
  "5": "directory",
  "6": "fifo",
  D: "directory", // GNU dumpdir: a directory whose data lists its contents, which we skip
};

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
  const paxText = (key: string) => pax.get(key)?.toString("utf8");
  const paxNumber = (key: string, fallback: number) => {
    const text = paxText(key);
    if (text === undefined || text === "") return fallback;
    const value = Number(text);
    if (!Number.isFinite(value)) throw new TarFormatError(`PAX ${key}=${text} is not a number at byte ${offset}`);
    return value;
  };
  const name = pax.get("path")?.toString("latin1") || longName || raw.name;
  const linkname = pax.get("linkpath")?.toString("latin1") || longLink || raw.linkname;
  let type: EntryType = TYPES[raw.typeflag] ?? "unsupported";
  let unsupported = type === "unsupported" ? (UNSUPPORTED[raw.typeflag] ?? `unknown entry type '${printable(raw.typeflag)}'`) : undefined;
  if ((raw.typeflag === "\0" || raw.typeflag === "0") && name.endsWith("/")) type = "directory";
  if ([...pax.keys()].some((k) => k.startsWith("GNU.sparse."))) {
    type = "unsupported";
    unsupported = UNSUPPORTED.S;
  }
  const size = paxNumber("size", raw.size);
  if (!Number.isSafeInteger(size) || size < 0) throw new TarFormatError(`invalid size in the tar header at byte ${offset}`);
  return {
    name,
    linkname,
    type,
    typeflag: raw.typeflag,
    mode: raw.mode,
    uid: paxNumber("uid", raw.uid),
    gid: paxNumber("gid", raw.gid),
    uname: paxText("uname") ?? raw.uname,
    gname: paxText("gname") ?? raw.gname,
    size,
    mtime: paxNumber("mtime", raw.mtime),
    devmajor: raw.devmajor,
    devminor: raw.devminor,
    ...(unsupported ? { unsupported } : {}),
    offset,
  };
}

function printable(flag: string): string {
  const code = flag.charCodeAt(0);
  return code >= 0x20 && code < 0x7f ? flag : `\\x${code.toString(16).padStart(2, "0")}`;
}
