/**
 * Archive member names and paths are byte strings: one char per byte (latin1), so names that
 * are not UTF-8 travel from the disk into the archive and back byte for byte, and a string's
 * length is its size in a tar header. These convert at the edges.
 */

/** Text a person typed or configured (UTF-8) as a byte string. */
export function byteString(text: string): string {
  return Buffer.from(text, "utf8").toString("latin1");
}

/** A byte string as a person reads it (UTF-8; bytes that are not UTF-8 show as U+FFFD). */
export function displayName(bytes: string): string {
  return Buffer.from(bytes, "latin1").toString("utf8");
}

/** The path fs calls take: a plain string when ASCII (the same bytes), else the exact bytes. */
export function fsPath(bytes: string): string | Buffer {
  return NON_ASCII.test(bytes) ? Buffer.from(bytes, "latin1") : bytes;
}

export const NON_ASCII = /[^\x00-\x7f]/;
