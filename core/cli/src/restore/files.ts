/**
 * `sov restore --files`: an archive's entries, one line each as `tar -tv` prints them. From the
 * index of a seekable archive, reading a few KiB of it; an archive without one is read whole.
 */
import type { Readable } from "node:stream";
import { displayName, type IndexedEntry } from "@sov/core/archive";
import { PathFilter, checkEntryName } from "./entry-name.js";
import { TarReader } from "./tar-reader.js";

export interface FileLine {
  readonly name: string;
  readonly type: IndexedEntry["type"];
  readonly mode: number;
  readonly size: number;
  readonly mtime: number;
}

const TYPE_CHAR: Readonly<Record<FileLine["type"], string>> = {
  file: "-", hardlink: "h", symlink: "l", chardev: "c", blockdev: "b", directory: "d", fifo: "p", unsupported: "?",
};

/** `-rw-r--r--      14439 2026-01-01 07:13 etc/hosts` (local time, like tar -tv). */
export function fileLine(e: FileLine): string {
  const perms = ["r", "w", "x", "r", "w", "x", "r", "w", "x"].map((c, i) => (e.mode & (0o400 >> i) ? c : "-")).join("");
  const d = new Date(e.mtime * 1000);
  const p = (n: number) => String(n).padStart(2, "0");
  const when = `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
  return `${TYPE_CHAR[e.type]}${perms} ${String(e.size).padStart(12)} ${when} ${displayName(e.name)}`;
}

/** Whether an entry is listed: every one without patterns, else those the patterns select (as --path would). */
export function fileFilter(patterns: readonly string[]): (name: string) => boolean {
  if (patterns.length === 0) return () => true;
  const filter = new PathFilter(patterns);
  return (name) => {
    const check = checkEntryName(name);
    return check.ok && filter.matches(check.path);
  };
}

/** The entries of a plaintext tar stream, for an archive without an index. */
export async function* entriesOfTar(tar: Readable): AsyncGenerator<FileLine> {
  const reader = new TarReader(tar);
  try {
    for (let e = reader.nextBuffered() ?? (await reader.next()); e; e = reader.nextBuffered() ?? (await reader.next())) yield { name: e.name, type: e.type, mode: e.mode, size: e.size, mtime: Math.floor(e.mtime) };
  } finally {
    await reader.close();
  }
}
