import { constants as fsc, type Stats } from "node:fs";
import { access, lstat, stat } from "node:fs/promises";
import { dirname, isAbsolute } from "node:path";
import { ConfigError } from "./errors.js";

const isRoot = () => process.geteuid?.() === 0;

/**
 * Checks a file sov will execute as root (a hook, a plugin given by path) the way the bash tool
 * did: absolute, no `..`, a regular file and not a symlink, and, when running as root,
 * root-owned and not writable by group or others, with the same rule for every parent
 * directory. A non-root attacker who can edit the config cannot point it at code they control.
 */
export async function checkTrustedFile(path: string, what: string, opts: { executable: boolean }): Promise<void> {
  if (!isAbsolute(path)) throw new ConfigError(`${what}: ${path} is not an absolute path`);
  if (path.split("/").includes("..")) throw new ConfigError(`${what}: ${path} contains '..'`);
  let st: Stats;
  try {
    st = await lstat(path);
  } catch (err) {
    throw new ConfigError(`${what}: ${path} does not exist or cannot be read (${(err as NodeJS.ErrnoException).code})`);
  }
  if (st.isSymbolicLink()) throw new ConfigError(`${what}: ${path} is a symlink; point the config at the real file`);
  if (!st.isFile()) throw new ConfigError(`${what}: ${path} is not a regular file`);
  if (opts.executable) {
    const executable = await access(path, fsc.X_OK).then(() => true, () => false);
    if (!executable || (st.mode & 0o111) === 0) throw new ConfigError(`${what}: ${path} is not executable (chmod 0755 it)`);
  }
  if (!isRoot()) return;
  requireRootOwned(st, path, what, "file");
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    await checkTrustedDirectory(dir, what);
    if (dir === "/") break;
  }
}

/** A directory root can trust: owned by root and writable by nobody else (symlinks followed). */
export async function checkTrustedDirectory(dir: string, what: string): Promise<void> {
  const link = await lstat(dir);
  requireRootOwned(link, dir, what, "directory");
  const st = link.isSymbolicLink() ? await stat(dir) : link;
  if (!st.isDirectory()) throw new ConfigError(`${what}: ${dir} is not a directory`);
  requireRootOwned(st, dir, what, "directory");
}

function requireRootOwned(st: Stats, path: string, what: string, kind: string): void {
  if (st.uid !== 0) throw new ConfigError(`${what}: ${kind} ${path} is owned by uid ${st.uid}, not root`);
  if (!st.isSymbolicLink() && st.mode & 0o022) {
    const mode = (st.mode & 0o7777).toString(8);
    // A shared directory like /tmp must stay world-writable: the file has to move instead.
    const fix = st.isDirectory() && st.mode & 0o1000 ? "move the file to a root-owned directory" : "chmod go-w it";
    throw new ConfigError(`${what}: ${kind} ${path} is writable by group or others (mode ${mode}); ${fix}`);
  }
}
