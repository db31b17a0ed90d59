/**
 * The walk works on byte strings (latin1, one char per byte) so that names which are not UTF-8
 * are archived exactly as they are on disk. These convert at the edges.
 */

/** UTF-8 text (a configured path or pattern) as a byte string. */
export function byteString(text: string): string {
  return Buffer.from(text, "utf8").toString("latin1");
}

/** A byte-string path as a person reads it (UTF-8). */
export function display(byteString: string): string {
  return Buffer.from(byteString, "latin1").toString("utf8");
}

/** The path fs calls take: a plain string when ASCII (the same bytes), else the exact bytes. */
export function fsPath(byteString: string): string | Buffer {
  return NON_ASCII.test(byteString) ? Buffer.from(byteString, "latin1") : byteString;
}

const NON_ASCII = /[^\x00-\x7f]/;
