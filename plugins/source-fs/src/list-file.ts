/**
 * `exclude_from` and `include_from` files: one pattern or path a line, like `tar -X` and
 * `tar -T`, with blank lines and `#` comment lines ignored and CRLF line ends tolerated.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { ConfigError } from "@sov/core";

export interface ListFile {
  /** The file as read: absolute. */
  readonly file: string;
  /** Its lines, without comments and blank lines, as byte strings: names need not be UTF-8. */
  readonly lines: ReadonlyArray<{ readonly text: string; readonly line: number }>;
}

/**
 * Reads one list file, relative to the config file's directory unless absolute. Any problem,
 * a missing file first, is a config error naming the option and the file.
 */
export function readListFile(option: "exclude_from" | "include_from", path: string, configDir: string): ListFile {
  const file = resolve(configDir, path);
  let content: Buffer;
  try {
    content = readFileSync(file);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === "ENOENT" ? "no such file" : code === "EISDIR" ? "is a directory" : `cannot read (${code ?? String(err)})`;
    throw new ConfigError(`${option} ${file}: ${why}`, { cause: err });
  }
  const lines: Array<{ text: string; line: number }> = [];
  content
    .toString("latin1")
    .split("\n")
    .forEach((raw, i) => {
      // only ASCII blanks: in a byte string \xa0 may be the tail of a UTF-8 character
      const text = raw.replace(/^[ \t]+|[ \t\r\f\v]+$/g, "");
      if (text !== "" && !text.startsWith("#")) lines.push({ text, line: i + 1 });
    });
  return { file, lines };
}
