/**
 * `exclude_from` and `include_from` files: one pattern or path a line, like `tar -X` and
 * `tar -T`, with blank lines and `#` comment lines ignored and CRLF line ends tolerated.
 */
import { closeSync, constants as fsc, fstatSync, lstatSync, openSync, readSync } from "node:fs";
import { resolve } from "node:path";
import { checkTrustedFile, ConfigError } from "@sov/core";
import { asList, type FsSourceOptions } from "./options.js";

export interface ListFile {
  /** The file as read: absolute. */
  readonly file: string;
  /** Its lines, without comments and blank lines, as byte strings: names need not be UTF-8. */
  readonly lines: ReadonlyArray<{ readonly text: string; readonly line: number }>;
}

type ListOption = "exclude_from" | "include_from";

/** Far more than any hand-kept list (some 200 000 paths); a read never grows past it. */
export const MAX_LIST_FILE_BYTES = 16 * 1024 * 1024;

/**
 * Whoever writes a list file decides what a backup holds, so as root each one is checked like
 * the recipients file: a regular file, not a symlink, root-owned and writable by nobody else,
 * like every parent directory. A missing file is left to the read, which names it.
 */
export async function checkListFilesTrusted(options: Readonly<FsSourceOptions>, configDir: string): Promise<void> {
  for (const option of ["exclude_from", "include_from"] as const) {
    for (const path of asList(options[option])) {
      const file = resolve(configDir, path);
      if (lstatOrNull(file) === null) continue;
      await checkTrustedFile(file, option, { executable: false });
    }
  }
}

/**
 * Reads one list file, relative to the config file's directory unless absolute. Any problem,
 * a missing file first, is a config error naming the option and the file. Only a regular file
 * of at most MAX_LIST_FILE_BYTES is read: a FIFO would block the whole process (signals too)
 * and /dev/zero would fill memory.
 */
export function readListFile(option: ListOption, path: string, configDir: string): ListFile {
  const file = resolve(configDir, path);
  const lines: Array<{ text: string; line: number }> = [];
  readBounded(option, file)
    .toString("latin1")
    .split("\n")
    .forEach((raw, i) => {
      // only ASCII blanks: in a byte string \xa0 may be the tail of a UTF-8 character
      const text = raw.replace(/^[ \t]+|[ \t\r\f\v]+$/g, "");
      if (text !== "" && !text.startsWith("#")) lines.push({ text, line: i + 1 });
    });
  return { file, lines };
}

function readBounded(option: ListOption, file: string): Buffer {
  let fd: number;
  try {
    // O_NONBLOCK: opening a FIFO without a writer must not wait for one
    fd = openSync(file, fsc.O_RDONLY | fsc.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new ConfigError(`${option} ${file}: ${code === "ENOENT" ? "no such file" : `cannot read (${code ?? String(err)})`}`, { cause: err });
  }
  try {
    const st = fstatSync(fd);
    if (st.isDirectory()) throw new ConfigError(`${option} ${file}: is a directory`);
    if (!st.isFile()) throw new ConfigError(`${option} ${file}: not a regular file (a FIFO or device could hang or flood the run); point ${option} at a plain file`);
    const tooBig = () => new ConfigError(`${option} ${file}: larger than ${MAX_LIST_FILE_BYTES / 1024 / 1024} MiB, the most a list file may hold`);
    if (st.size > MAX_LIST_FILE_BYTES) throw tooBig();
    // one byte more than fstat said tells a file that grew since
    const buffer = Buffer.alloc(Math.min(st.size, MAX_LIST_FILE_BYTES) + 1);
    let length = 0;
    for (let n; length < buffer.length && (n = readSync(fd, buffer, length, buffer.length - length, null)) > 0; ) length += n;
    if (length > MAX_LIST_FILE_BYTES) throw tooBig();
    if (length > st.size) throw new ConfigError(`${option} ${file}: grew while it was read; run again once it is written`);
    return buffer.subarray(0, length);
  } finally {
    closeSync(fd);
  }
}

function lstatOrNull(file: string) {
  try {
    return lstatSync(file);
  } catch {
    return null;
  }
}
