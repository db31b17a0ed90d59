import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";

/**
 * Owner ids for restored files when running as root, the way GNU tar picks them by default:
 * the archive's user and group *names* when they exist on this system, else its numeric ids.
 * Names are looked up in /etc/passwd and /etc/group, then with `getent` (LDAP, sssd), once each.
 */
export class OwnerMap {
  private users: Map<string, number | null> | null = null;
  private groups: Map<string, number | null> | null = null;

  constructor(private readonly numericOnly = false) {}

  uid(uname: string, uid: number): number {
    if (this.numericOnly || !uname) return uid;
    this.users ??= readIdFile("/etc/passwd");
    return this.lookup(this.users, "passwd", uname) ?? uid;
  }

  gid(gname: string, gid: number): number {
    if (this.numericOnly || !gname) return gid;
    this.groups ??= readIdFile("/etc/group");
    return this.lookup(this.groups, "group", gname) ?? gid;
  }

  private lookup(cache: Map<string, number | null>, db: "passwd" | "group", name: string): number | null {
    const known = cache.get(name);
    if (known !== undefined) return known;
    let id: number | null = null;
    if (/^[A-Za-z0-9_.][A-Za-z0-9_.$@-]*$/.test(name)) {
      const res = spawnSync("getent", [db, name], { encoding: "utf8", timeout: 5000 });
      if (res.status === 0) id = parseIdLine(res.stdout.split("\n")[0] ?? "");
    }
    cache.set(name, id);
    return id;
  }
}

function readIdFile(path: string): Map<string, number | null> {
  const map = new Map<string, number | null>();
  let text = "";
  try {
    text = readFileSync(path, "utf8");
  } catch {
    return map;
  }
  for (const line of text.split("\n")) {
    const name = line.split(":", 1)[0];
    const id = parseIdLine(line);
    if (name && id !== null && !map.has(name)) map.set(name, id);
  }
  return map;
}

/** `name:x:id:...` → id */
function parseIdLine(line: string): number | null {
  const fields = line.split(":");
  if (fields.length < 3 || !/^\d+$/.test(fields[2]!)) return null;
  return Number(fields[2]);
}
