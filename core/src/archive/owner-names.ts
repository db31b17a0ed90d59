/**
 * /etc/passwd and /etc/group, read the one way both directions need: the writer maps ids to
 * names for the uname/gname fields, restore maps the archive's names back to this system's ids
 * (GNU tar's default). Names are byte strings. NSS services (LDAP, sssd) are not read here.
 */
import { readFileSync } from "node:fs";

export interface IdFileEntry {
  readonly name: string;
  readonly id: number;
}

/** `name:password:id:...` lines, in file order; NIS `+`/`-` lines and malformed ones are skipped. */
export function parseIdFile(text: string): IdFileEntry[] {
  const entries: IdFileEntry[] = [];
  for (const line of text.split("\n")) {
    const entry = parseIdLine(line);
    if (entry) entries.push(entry);
  }
  return entries;
}

/** One `name:password:id:...` line (a file's, or what `getent` prints), or null. */
export function parseIdLine(line: string): IdFileEntry | null {
  const [name, , id] = line.split(":", 3);
  if (!name || !id || !/^\d+$/.test(id) || name.startsWith("+") || name.startsWith("-")) return null;
  return { name, id: Number(id) };
}

/** A passwd or group file's entries; none when it cannot be read. */
export function readIdFile(path: string): IdFileEntry[] {
  try {
    return parseIdFile(readFileSync(path, "latin1"));
  } catch {
    return [];
  }
}

/** id → name; the first line for an id wins, as with getpwuid(3). */
export function namesById(entries: readonly IdFileEntry[]): Map<number, string> {
  const names = new Map<number, string>();
  for (const { name, id } of entries) if (!names.has(id)) names.set(id, name);
  return names;
}

/** name → id; the first line for a name wins, as with getpwnam(3). */
export function idsByName(entries: readonly IdFileEntry[]): Map<string, number> {
  const ids = new Map<string, number>();
  for (const { name, id } of entries) if (!ids.has(name)) ids.set(name, id);
  return ids;
}

/** uid → user name and gid → group name, for the uname/gname header fields. */
export interface IdNames {
  user(uid: number): string | undefined;
  group(gid: number): string | undefined;
}

/** Reads /etc/passwd and /etc/group once; the numeric ids are always stored besides. */
export function loadIdNames(passwd = "/etc/passwd", group = "/etc/group"): IdNames {
  const users = namesById(readIdFile(passwd));
  const groups = namesById(readIdFile(group));
  return { user: (uid) => users.get(uid), group: (gid) => groups.get(gid) };
}
