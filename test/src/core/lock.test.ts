import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { ConfigError, LockHeldError, silentLogger } from "@sov/core";
import { acquireLock } from "../../../core/dist/src/lock.js";
import { needRoot, scratch } from "../helpers.js";

test("the lock is an atomic mkdir with a pid file; a second taker gets LockHeldError (exit 10)", async (t) => {
  const dir = join(scratch(t, "lock"), "run", "lock");
  const lock = await acquireLock(dir, silentLogger());
  assert.match(readFileSync(join(dir, "pid"), "utf8"), new RegExp(`^${process.pid} \\d+\\n$`));
  assert.equal(statSync(join(dir, "..")).mode & 0o777, 0o750, "the lock's parent is created 0750");
  await assert.rejects(acquireLock(dir, silentLogger()), (err: Error) => err instanceof LockHeldError && err.exitCode === 10);
  await lock.release();
  assert.equal(existsSync(dir), false);
  const again = await acquireLock(dir, silentLogger());
  await again.release();
});

test("a lock whose process is gone is broken with a warning", async (t) => {
  const dir = join(scratch(t, "stale"), "lock");
  const child = spawn(process.execPath, ["-e", ""]);
  await new Promise((r) => child.on("exit", r));
  mkdirSync(dir);
  writeFileSync(join(dir, "pid"), `${child.pid} 12345\n`);
  const log = silentLogger();
  const lock = await acquireLock(dir, log);
  assert.ok(log.warnings.some((w) => w.includes("breaking stale lock")), log.warnings.join());
  await lock.release();
});

test("a live pid with another start time is a reused pid, not the holder", async (t) => {
  const dir = join(scratch(t, "reuse"), "lock");
  mkdirSync(dir);
  // pid 1 is alive, but it did not start at tick 1 (it is not the process that took the lock)
  writeFileSync(join(dir, "pid"), "1 1\n");
  const log = silentLogger();
  const lock = await acquireLock(dir, log);
  assert.ok(log.warnings.some((w) => w.includes("breaking stale lock")));
  await lock.release();
  // the same pid with its real start time is a live holder
  mkdirSync(dir);
  const start = readFileSync("/proc/1/stat", "utf8").split(") ")[1]!.split(" ")[19];
  writeFileSync(join(dir, "pid"), `1 ${start}\n`);
  await assert.rejects(acquireLock(dir, silentLogger()), LockHeldError);
});

test("as root, a lock parent owned by another user or writable by others is refused (exit 2)", async (t) => {
  if (!needRoot(t)) return;
  const base = scratch(t, "lockparent");
  const owned = join(base, "owned");
  mkdirSync(owned, { mode: 0o750 });
  chownSync(owned, 65534, 65534);
  await assert.rejects(acquireLock(join(owned, "lock"), silentLogger()), (err: Error) => err instanceof ConfigError && /owned by uid 65534/.test(err.message));
  const open = join(base, "open");
  mkdirSync(open);
  chmodSync(open, 0o777);
  await assert.rejects(acquireLock(join(open, "lock"), silentLogger()), (err: Error) => err instanceof ConfigError && /writable by group or others/.test(err.message));
  assert.equal(existsSync(join(owned, "lock")) || existsSync(join(open, "lock")), false);
});
