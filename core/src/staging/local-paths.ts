import { lstat, realpath } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { ConfigError } from "../errors.js";
import type { ArchiveStore } from "../storage.js";
import { checkTrustedDirectory } from "../trusted-path.js";

/**
 * Checked while the chain is built, so a problem exits 2 before the lock. A store's archive
 * directory on this host (`features.localPath`) that already exists must be one only root (or,
 * for a non-root run, the user running sov) can change: whoever else can write it can delete or
 * swap the archives. A world-writable directory with the sticky bit is allowed: others cannot
 * remove or rename what sov writes there. And no two destinations may resolve to one directory
 * (or one mount point): their archives and temporaries would collide.
 */
export async function checkLocalPaths(stores: ReadonlyArray<{ readonly store: ArchiveStore; readonly plugin: string }>): Promise<void> {
  const seen = new Map<string, string>();
  for (const { store, plugin } of stores) {
    const where = store.features.localPath ?? store.features.removable?.mountPoint;
    if (!where) continue;
    const what = `destination ${store.name} (${plugin})`;
    if (store.features.localPath && !store.features.removable) await checkOwnDirectory(store.features.localPath, what);
    const key = await resolvedPath(where);
    const other = seen.get(key);
    if (other !== undefined) {
      throw new ConfigError(`destinations ${other} and ${store.name} both write to ${key}; give each its own directory`);
    }
    seen.set(key, store.name);
  }
}

async function checkOwnDirectory(dir: string, what: string): Promise<void> {
  const st = await lstat(dir).catch(() => null);
  if (!st) return; // sov creates it 0700 in open()
  const euid = process.geteuid?.();
  if (euid === undefined) return;
  if (euid === 0) {
    // Root-owned, no group/other write; a shared sticky directory is the one allowed exception.
    if (st.isDirectory() && st.uid === 0 && st.mode & 0o1000) return;
    await checkTrustedDirectory(dir, what);
    return;
  }
  if (st.uid !== euid) throw new ConfigError(`${what}: directory ${dir} is owned by uid ${st.uid}, not by the user running sov (uid ${euid})`);
  if (st.mode & 0o022 && !(st.mode & 0o1000)) {
    throw new ConfigError(`${what}: directory ${dir} is writable by group or others (mode ${(st.mode & 0o7777).toString(8)}); chmod go-w it`);
  }
}

/** The real path of what exists of `path`, with the missing rest appended. */
async function resolvedPath(path: string): Promise<string> {
  const missing: string[] = [];
  let existing = resolve(path);
  for (;;) {
    try {
      return join(await realpath(existing), ...missing.reverse());
    } catch {
      if (existing === "/") return resolve(path);
      missing.push(basename(existing));
      existing = dirname(existing);
    }
  }
}
