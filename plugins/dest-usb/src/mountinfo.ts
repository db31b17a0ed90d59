import { readFile } from "node:fs/promises";

/** One line of /proc/self/mountinfo (proc(5)). */
export interface MountEntry {
  readonly id: number;
  readonly parentId: number;
  /** `st_dev` of files on this mount; for block filesystems, the device's major:minor. */
  readonly major: number;
  readonly minor: number;
  /** The directory of the filesystem that is mounted here (`/` unless a bind mount of a subdirectory). */
  readonly root: string;
  readonly mountPoint: string;
  readonly options: readonly string[];
  readonly fsType: string;
  /** What was mounted: a device path for block filesystems. */
  readonly source: string;
}

export const MOUNTINFO = "/proc/self/mountinfo";

/** The mount table of this process's namespace, read afresh each time (it changes under us). */
export async function readMountInfo(path = MOUNTINFO): Promise<MountEntry[]> {
  return parseMountInfo(await readFile(path, "utf8"));
}

/**
 * Parses mountinfo text. Fields are separated by single spaces; paths escape space, tab,
 * newline and backslash as `\ooo` octal; a variable number of optional fields ends at `-`.
 */
export function parseMountInfo(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split("\n")) {
    if (!line) continue;
    const fields = line.split(" ");
    const dash = fields.indexOf("-", 6);
    if (dash < 0 || fields.length < dash + 3) continue;
    const [major, minor] = (fields[2] ?? "").split(":").map(Number);
    if (major === undefined || minor === undefined || Number.isNaN(major) || Number.isNaN(minor)) continue;
    entries.push({
      id: Number(fields[0]),
      parentId: Number(fields[1]),
      major,
      minor,
      root: unescapeField(fields[3]!),
      mountPoint: unescapeField(fields[4]!),
      options: fields[5]!.split(","),
      fsType: unescapeField(fields[dash + 1]!),
      source: unescapeField(fields[dash + 2]!),
    });
  }
  return entries;
}

function unescapeField(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)));
}

/** The mount that is visible at `path`: of the mounts stacked there, the one no other sits on. */
export function mountAt(entries: readonly MountEntry[], path: string): MountEntry | undefined {
  const here = entries.filter((e) => e.mountPoint === path);
  return here.find((e) => !here.some((other) => other.parentId === e.id)) ?? here.at(-1);
}

export function isReadOnly(entry: MountEntry): boolean {
  return entry.options.includes("ro");
}
