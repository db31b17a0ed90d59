/**
 * The tar layout both directions share: block size, the ustar header's fields, and one entry
 * type vocabulary with its type flags (POSIX.1-2001 "ustar Interchange Format", GNU extensions).
 */

export const BLOCK_SIZE = 512;

/** What an entry is, for the writer and the reader alike. */
export type EntryType = "file" | "hardlink" | "symlink" | "chardev" | "blockdev" | "directory" | "fifo";

/** The type flag each entry type is written with. */
export const TYPEFLAG: Readonly<Record<EntryType, string>> = {
  file: "0",
  hardlink: "1",
  symlink: "2",
  chardev: "3",
  blockdev: "4",
  directory: "5",
  fifo: "6",
};

/** The type flags a reader accepts for each entry type (old and GNU spellings included). */
export const ENTRY_TYPE_OF_FLAG: Readonly<Record<string, EntryType>> = {
  ...Object.fromEntries(Object.entries(TYPEFLAG).map(([type, flag]) => [flag, type as EntryType])),
  "\0": "file", // pre-POSIX tar
  "7": "file", // contiguous file: an ordinary file everywhere that matters
  D: "directory", // GNU dumpdir: a directory whose data lists its contents, which is skipped
};

/** Field offset and width in the ustar header block. */
export type Field = readonly [offset: number, width: number];

export const NAME: Field = [0, 100];
export const MODE: Field = [100, 8];
export const UID: Field = [108, 8];
export const GID: Field = [116, 8];
export const SIZE: Field = [124, 12];
export const MTIME: Field = [136, 12];
export const CHKSUM: Field = [148, 8];
export const TYPE: Field = [156, 1];
export const LINKNAME: Field = [157, 100];
/** "ustar\0" then version "00" (POSIX); GNU's own format has "ustar  \0". */
export const MAGIC: Field = [257, 8];
export const UNAME: Field = [265, 32];
export const GNAME: Field = [297, 32];
export const DEVMAJOR: Field = [329, 8];
export const DEVMINOR: Field = [337, 8];
export const PREFIX: Field = [345, 155];

/** Bytes of data after a header, padded to whole blocks. */
export function paddedSize(size: number): number {
  return Math.ceil(size / BLOCK_SIZE) * BLOCK_SIZE;
}

/** The bytes are not a valid tar header or extended header. */
export class TarFormatError extends Error {
  override name = "TarFormatError";
}
