// Issue 16: a local destination directory someone else can change, and two destinations in one
// directory, are refused with the config (exit 2), before the lock and before anything is read.
import assert from "node:assert/strict";
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { needRoot, needTools } from "../helpers.js";
import { makeFixture, type Fixture } from "../run/fixture.js";

function twoLocal(fx: Fixture, first: string, second: string): void {
  fx.writeV2Config(`destinations:
  - { name: one, plugin: local, path: ${first} }
  - { name: two, plugin: local, path: ${second} }
`);
}

function assertRefusedBeforeLock(fx: Fixture, res: { code: number; stderr: string }, pattern: RegExp, dirs: string[]): void {
  assert.equal(res.code, 2, res.stderr);
  assert.match(res.stderr, pattern);
  assert.equal(existsSync(fx.lockDir), false, "refused before the lock");
  for (const dir of dirs) assert.deepEqual(existsSync(dir) ? readdirSync(dir) : [], [], `nothing written in ${dir}`);
}

test("a destination directory owned by another user is refused (exit 2) before the lock", (t) => {
  if (!needRoot(t) || !needTools(t, "age", "age-keygen")) return;
  const fx = makeFixture(t, "dest-owner");
  const dir = join(fx.dir, "theirs");
  mkdirSync(dir, { mode: 0o700 });
  chownSync(dir, 65534, 65534);
  fx.writeV2Config(`destinations:\n  - { name: local, plugin: local, path: ${dir} }\n`);
  assertRefusedBeforeLock(fx, fx.run(), new RegExp(`destination local \\(@sov/dest-local\\): directory ${dir} is owned by uid 65534, not root`), [dir]);
});

test("a group-writable destination directory is refused; a root-owned sticky one (like /tmp) is accepted", (t) => {
  if (!needRoot(t) || !needTools(t, "age", "age-keygen")) return;
  const fx = makeFixture(t, "dest-mode");
  const dir = join(fx.dir, "shared");
  mkdirSync(dir);
  chmodSync(dir, 0o770);
  fx.writeV2Config(`destinations:\n  - { name: local, plugin: local, path: ${dir} }\n`);
  assertRefusedBeforeLock(fx, fx.run(), /directory .*shared is writable by group or others \(mode 770\)/, [dir]);

  chmodSync(dir, 0o1777);
  const res = fx.run();
  assert.equal(res.code, 0, res.stderr);
  assert.equal(readdirSync(dir).filter((n) => n.endsWith(".age")).length, 1);
});

test("two destinations that resolve to one directory are refused with the config (exit 2)", (t) => {
  if (!needTools(t, "age", "age-keygen")) return;
  const fx = makeFixture(t, "dest-same");
  const dir = join(fx.dir, "archives");
  mkdirSync(dir, { mode: 0o700 });
  const alias = join(fx.dir, "alias");
  symlinkSync(dir, alias);
  twoLocal(fx, dir, `${alias}/`);
  assertRefusedBeforeLock(fx, fx.run(), new RegExp(`destinations one and two both write to ${dir}; give each its own directory`), [dir]);
  // Not yet existing directories are compared by the path they will have.
  twoLocal(fx, join(fx.dir, "new", "x"), join(alias, "..", "new", "x"));
  assert.equal(fx.run().code, 2);
});
