import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { ConfigError, LockHeldError, silentLogger } from "@sov/core";
import { acquireLock } from "../../../core/dist/src/lock.js";
import { needRoot, needTools, scratch, sovSpawn } from "../helpers.js";
import { makeFixture } from "../run/fixture.js";

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

test("a stale lock met by many takers at once: exactly one breaks it and holds the lock, the others get LockHeldError", async (t) => {
  const dir = join(scratch(t, "stale-race"), "lock");
  const gone = spawn(process.execPath, ["-e", ""]);
  await new Promise((r) => gone.on("exit", r));
  for (let round = 0; round < 5; round++) {
    mkdirSync(dir);
    writeFileSync(join(dir, "pid"), `${gone.pid} 12345\n`);
    const outcomes = await Promise.allSettled(Array.from({ length: 8 }, () => acquireLock(dir, silentLogger())));
    const held = outcomes.filter((o) => o.status === "fulfilled");
    const refused = outcomes.filter((o): o is PromiseRejectedResult => o.status === "rejected");
    assert.equal(held.length, 1, `round ${round}: ${held.length} takers hold the lock`);
    for (const r of refused) assert.ok(r.reason instanceof LockHeldError, String(r.reason));
    await (held[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof acquireLock>>>).value.release();
    assert.equal(existsSync(dir), false, "released");
    assert.deepEqual(readdirSync(join(dir, "..")), [], "no claim mark is left beside the lock");
  }
});

test("sov run: N runs started together on a stale lock: exactly one runs, the others exit 10", async (t) => {
  if (!needTools(t, "age", "age-keygen") || !needRoot(t)) return;
  const fx = makeFixture(t, "stale-race-cli");
  // a pre_hook that sleeps keeps the winner's lock held until every other run has tried
  const hook = join(fx.dir, "slow-pre-hook.sh");
  writeFileSync(hook, "#!/bin/sh\nsleep 2\n");
  chmodSync(hook, 0o755);
  fx.writeConfig({ extra: `pre_hook: ${hook}` });
  const gone = spawn(process.execPath, ["-e", ""]);
  await new Promise((r) => gone.on("exit", r));
  mkdirSync(fx.lockDir, { recursive: true });
  writeFileSync(join(fx.lockDir, "pid"), `${gone.pid} 12345\n`);
  const runs = Array.from({ length: 4 }, () => {
    const child = sovSpawn(["run"], fx.env, { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr!.on("data", (d) => (stderr += d));
    return new Promise<{ code: number | null; stderr: string }>((resolve) => child.on("exit", (code) => resolve({ code, stderr })));
  });
  const results = await Promise.all(runs);
  const codes = results.map((r) => r.code).sort();
  assert.deepEqual(codes, [0, 10, 10, 10], results.map((r) => r.stderr).join("\n---\n"));
  assert.equal(fx.archives().length, 1, fx.files().join());
  assert.deepEqual(readdirSync(join(fx.lockDir, "..")), [], "the lock is released and no mark is left");
});
