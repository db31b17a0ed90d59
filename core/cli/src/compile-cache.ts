/**
 * V8's compile cache (Node 22.1 and later): the modules a run compiled are kept as bytecode, and
 * the next run loads them from there instead of compiling them again. sov loads a few hundred
 * modules at every start (the core, yaml, ajv, age-encryption and its curves); with the cache
 * the packaged `sov demo` takes 0.61 s of CPU instead of 0.67.
 *
 * The cache is code that root will run, so it lives in sov's state directory (root's, 0750;
 * `$SOVEREIGN_BACKUP_STATE_DIR` moves it) and is used only when that directory and every
 * directory above it are owned by root (or, for a run that is not root's, by root or the user
 * running it) and writable by nobody else: anyone who could write the cache could run code as
 * root; the cache directory itself must be this user's and closed to everyone else (0700).
 * Otherwise, or on Node 20, sov runs without it. `NODE_DISABLE_COMPILE_CACHE=1` turns it off
 * (Node's own switch). `NODE_COMPILE_CACHE`, Node's variable for a cache of its own choosing,
 * is applied by Node before sov starts, unchecked: only root's environment can set it for root.
 */
import { lstatSync, mkdirSync } from "node:fs";
import nodeModule from "node:module";
import { dirname, join, resolve } from "node:path";
import { stateDir } from "./report/state.js";

export const COMPILE_CACHE_SUBDIR = "node-compile-cache";

/** Turns the cache on for the modules loaded after this call, when it can be trusted. */
export function useCompileCache(env: NodeJS.ProcessEnv = process.env): void {
  // not in Node 20 (nor in its types): looked up on the module object, not imported by name,
  // which Node 20 would refuse to link
  const { enableCompileCache } = nodeModule as { enableCompileCache?: (dir: string) => unknown };
  if (typeof enableCompileCache !== "function" || env.NODE_DISABLE_COMPILE_CACHE) return;
  // absolute and normalised (no trailing slash that would make lstat follow a link): the path
  // checked is the path Node is given
  const state = resolve(stateDir(env));
  const dir = join(state, COMPILE_CACHE_SUBDIR);
  try {
    // nothing is created where it could not be used: not before a run made the state directory
    // (`sov install` does), nor in one that fails the check
    if (!trustedDirectories(state)) return;
    mkdirSync(dir, { mode: 0o700 });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") return;
  }
  try {
    if (trustedDirectories(dir) && privateDirectory(dir)) enableCompileCache(dir);
  } catch {
    // a cache is never a reason for a run to fail
  }
}

/** `dir` (absolute) and every directory above it: owned by root or by this user, and writable by neither group nor others. */
export function trustedDirectories(dir: string): boolean {
  const me = process.geteuid?.() ?? -1;
  for (let at = resolve(dir); ; at = dirname(at)) {
    const st = lstatSync(at);
    if (!st.isDirectory()) return false; // a symlink included: its target is not checked
    if (st.uid !== 0 && st.uid !== me) return false;
    if (st.mode & 0o022) return false;
    if (dirname(at) === at) return true;
  }
}

/**
 * The cache directory itself: this user's, and closed to everyone else. Node makes a
 * subdirectory per Node version in it with the process's umask (a root shell's 022 makes it
 * world-readable, 000 world-writable) and reads whatever files it finds there, so nobody else
 * may so much as enter the directory.
 */
function privateDirectory(dir: string): boolean {
  const st = lstatSync(dir);
  return st.isDirectory() && st.uid === (process.geteuid?.() ?? -1) && (st.mode & 0o077) === 0;
}
