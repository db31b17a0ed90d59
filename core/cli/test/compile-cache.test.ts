// V8's compile cache (src/compile-cache.ts): kept in the state directory on Node 22.1 and later,
// and only where nobody but root (or the user running sov) could have written it, since what is
// in it runs as code.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readdirSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import { trustedScratch } from "@sov/core/testing";
import { COMPILE_CACHE_SUBDIR, trustedDirectories } from "../src/compile-cache.js";

const sovBin = fileURLToPath(new URL("../../bin/sov.js", import.meta.url));
const [major, minor] = process.versions.node.split(".").map(Number) as [number, number];
const hasCompileCache = major > 22 || (major === 22 && minor >= 1);

function sovVersion(stateDir: string, opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): void {
  const env: NodeJS.ProcessEnv = { ...process.env, SOVEREIGN_BACKUP_STATE_DIR: stateDir };
  delete env.NODE_COMPILE_CACHE;
  delete env.NODE_DISABLE_COMPILE_CACHE;
  const res = spawnSync(process.execPath, [sovBin, "--version"], { encoding: "utf8", env: { ...env, ...opts.env }, cwd: opts.cwd, timeout: 30_000 });
  assert.equal(res.error, undefined, "sov --version ends");
  assert.equal(res.status, 0, res.stderr);
  assert.match(res.stdout, /^sov \d/);
}

test("a directory is trusted only when it and every parent are owned by root or this user and writable by nobody else", (t) => {
  const scratch = trustedScratch(t, "ccache");
  const dir = join(scratch, "a", "b");
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  assert.equal(trustedDirectories(dir), true);
  chmodSync(join(scratch, "a"), 0o775);
  assert.equal(trustedDirectories(dir), false, "a group-writable parent");
  chmodSync(join(scratch, "a"), 0o755);
  chmodSync(dir, 0o757);
  assert.equal(trustedDirectories(dir), false, "writable by others");
  chmodSync(dir, 0o700);
  symlinkSync(dir, join(scratch, "link"));
  assert.equal(trustedDirectories(join(scratch, "link")), false, "a symlink");
  assert.equal(trustedDirectories("/tmp"), false, "a world-writable directory, sticky or not");
  assert.equal(trustedDirectories("/"), true, "the walk ends at /");
});

test(`sov keeps its compile cache in a trusted state directory (${hasCompileCache ? "Node 22.1+" : `Node ${process.version}: none is made`})`, (t) => {
  const scratch = trustedScratch(t, "ccache");
  const state = join(scratch, "state");
  sovVersion(state);
  assert.equal(existsSync(state), false, "no state directory is made for the cache");

  mkdirSync(state, { mode: 0o750 });
  sovVersion(state);
  const cache = join(state, COMPILE_CACHE_SUBDIR);
  if (!hasCompileCache) {
    assert.equal(existsSync(cache), false);
    return;
  }
  const written = readdirSync(cache, { recursive: true }).length;
  assert.ok(written > 0, "the first run wrote the cache");
  sovVersion(state); // the second run reads it

  const loose = join(scratch, "loose");
  mkdirSync(loose, { mode: 0o750 });
  chmodSync(loose, 0o770);
  sovVersion(loose);
  assert.deepEqual(readdirSync(loose), [], "a group-writable state directory gets no cache");

  // a cache directory that others may enter: what Node makes inside it is not checked, so unused
  const open = join(scratch, "open");
  mkdirSync(join(open, COMPILE_CACHE_SUBDIR), { recursive: true, mode: 0o755 });
  chmodSync(join(open, COMPILE_CACHE_SUBDIR), 0o755);
  sovVersion(open);
  assert.deepEqual(readdirSync(join(open, COMPILE_CACHE_SUBDIR)), [], "a cache directory open to others is not used");

  const off = join(scratch, "off");
  mkdirSync(off, { mode: 0o750 });
  sovVersion(off, { env: { NODE_DISABLE_COMPILE_CACHE: "1" } });
  assert.deepEqual(readdirSync(off), [], "NODE_DISABLE_COMPILE_CACHE=1: nothing is made");

  // a relative state directory is taken from where sov runs, checked up to / and used
  mkdirSync(join(scratch, "rel", "state"), { recursive: true, mode: 0o750 });
  sovVersion("rel/state", { cwd: scratch });
  assert.ok(readdirSync(join(scratch, "rel", "state", COMPILE_CACHE_SUBDIR)).length > 0, "a relative state directory's cache");
});
