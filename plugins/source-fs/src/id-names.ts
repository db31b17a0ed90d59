import { readFileSync } from "node:fs";

/** uid → user name and gid → group name, for the uname/gname header fields. */
export interface IdNames {
  user(uid: number): string | undefined;
  group(gid: number): string | undefined;
}

/**
 * Reads /etc/passwd and /etc/group once. Names from NSS services (LDAP, sssd) are not looked up:
 * that would mean spawning `getent` or a native module, and the numeric ids are always stored,
 * which is what `tar --numeric-owner` restores from anyway. Names are byte strings (latin1).
 */
export function loadIdNames(passwd = "/etc/passwd", group = "/etc/group"): IdNames {
  const users = parseIdFile(passwd);
  const groups = parseIdFile(group);
  return { user: (uid) => users.get(uid), group: (gid) => groups.get(gid) };
}

/** `name:password:id:...` lines; the first line for an id wins, as with getpwuid(3). */
function parseIdFile(path: string): Map<number, string> {
  const names = new Map<number, string>();
  let text: string;
  try {
    text = readFileSync(path, "latin1");
  } catch {
    return names;
  }
  for (const line of text.split("\n")) {
    const [name, , id] = line.split(":", 3);
    if (!name || !id || !/^\d+$/.test(id) || name.startsWith("+") || name.startsWith("-")) continue;
    const n = Number(id);
    if (!names.has(n)) names.set(n, name);
  }
  return names;
}
