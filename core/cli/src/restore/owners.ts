import { spawnSync } from "node:child_process";
import { idsByName, parseIdLine, readIdFile } from "@sov/core/archive";

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
    this.users ??= new Map(idsByName(readIdFile("/etc/passwd")));
    return this.lookup(this.users, "passwd", uname) ?? uid;
  }

  gid(gname: string, gid: number): number {
    if (this.numericOnly || !gname) return gid;
    this.groups ??= new Map(idsByName(readIdFile("/etc/group")));
    return this.lookup(this.groups, "group", gname) ?? gid;
  }

  private lookup(cache: Map<string, number | null>, db: "passwd" | "group", name: string): number | null {
    const known = cache.get(name);
    if (known !== undefined) return known;
    let id: number | null = null;
    if (/^[A-Za-z0-9_.][A-Za-z0-9_.$@-]*$/.test(name)) {
      const res = spawnSync("getent", [db, name], { encoding: "latin1", timeout: 5000 });
      if (res.status === 0) id = parseIdLine(res.stdout.split("\n")[0] ?? "")?.id ?? null;
    }
    cache.set(name, id);
    return id;
  }
}
