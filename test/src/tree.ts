import { lstatSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { createHash } from "node:crypto";
import { join } from "node:path";

export interface TreeEntry {
  type: "file" | "dir" | "symlink" | "other";
  mode: number;
  mtime: number;
  size?: number;
  sha256?: string;
  target?: string;
  /** Index of the first path that shares this file's inode, for hardlink comparison. */
  linkGroup?: string;
}

/**
 * Everything a restore must get right about a tree, keyed by relative path: type, permission
 * bits, mtime (whole seconds), content hash, symlink target, and which files are hardlinked.
 */
export function snapshotTree(root: string, opts: { mtimeOfDirs?: boolean } = {}): Record<string, TreeEntry> {
  const out: Record<string, TreeEntry> = {};
  const inodes = new Map<string, string>();
  const walk = (rel: string) => {
    const abs = rel ? join(root, rel) : root;
    for (const name of readdirSync(abs).sort()) {
      const r = rel ? `${rel}/${name}` : name;
      const st = lstatSync(join(root, r));
      const base = { mode: st.mode & 0o7777, mtime: Math.floor(st.mtimeMs / 1000) };
      if (st.isSymbolicLink()) {
        out[r] = { type: "symlink", ...base, mode: 0, target: readlinkSync(join(root, r)) };
      } else if (st.isDirectory()) {
        out[r] = { type: "dir", ...base, ...(opts.mtimeOfDirs === false ? { mtime: 0 } : {}) };
        walk(r);
      } else if (st.isFile()) {
        const key = `${st.dev}:${st.ino}`;
        const group = st.nlink > 1 ? (inodes.get(key) ?? (inodes.set(key, r), r)) : undefined;
        out[r] = {
          type: "file",
          ...base,
          size: st.size,
          sha256: createHash("sha256").update(readFileSync(join(root, r))).digest("hex"),
          ...(group ? { linkGroup: group } : {}),
        };
      } else {
        out[r] = { type: "other", ...base };
      }
    }
  };
  walk("");
  return out;
}
