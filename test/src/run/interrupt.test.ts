import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { test } from "node:test";
import { needTools, sovSpawn } from "../helpers.js";
import { makeFixture, type Fixture } from "./fixture.js";

const FINAL_RE = /\.age$/;

/** Starts `sov run` on a big source and resolves once its temporary archive exists. */
async function startAndWaitForTmp(fx: Fixture) {
  const child = sovSpawn(["run"], fx.env, { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code, signal) => resolve(code ?? (signal ? -1 : null))));
  for (let i = 0; i < 1000; i++) {
    const tmp = (() => {
      try {
        return readdirSync(fx.backups).filter((n) => n.endsWith(".tmp"));
      } catch {
        return [];
      }
    })();
    if (tmp.length) return { child, exited, stderr: () => stderr };
    await sleep(10);
  }
  child.kill("SIGKILL");
  throw new Error(`no temporary archive appeared; stderr: ${stderr}`);
}

function bigSource(fx: Fixture) {
  // Incompressible data, so the run takes long enough to be interrupted mid-write.
  execFileSync("sh", ["-c", `head -c 400M /dev/urandom > ${join(fx.data, "big", "huge.bin")}`]);
}

test("kill -9 mid-run leaves nothing under a final name, and the next run cleans up and succeeds", async (t) => {
  if (!needTools(t, "age", "age-keygen")) return;
  const fx = makeFixture(t, "kill9");
  bigSource(fx);
  const { child, exited } = await startAndWaitForTmp(fx);
  child.kill("SIGKILL");
  await exited;
  const after = readdirSync(fx.backups);
  assert.equal(after.filter((n) => FINAL_RE.test(n)).length, 0, after.join());
  assert.equal(after.filter((n) => n.endsWith(".tmp")).length, 1, "the killed run's temporary file is left");

  const next = fx.run();
  assert.equal(next.code, 0, next.stderr);
  assert.match(next.stderr, /removed .*\.tmp, left by an interrupted run/);
  assert.match(next.stderr, /breaking stale lock/);
  const final = readdirSync(fx.backups).sort();
  assert.equal(final.length, 2, final.join());
  assert.match(final[0]!, FINAL_RE);
  assert.equal(final[1], `${final[0]}.sha256`);
});

// SIGHUP: a closed terminal or `systemctl kill -s HUP` must end a run like SIGTERM, not kill it.
for (const signal of ["SIGTERM", "SIGHUP"] as const) {
  test(`${signal} mid-run aborts: exit 1, the temporary file removed, nothing committed, lock released`, async (t) => {
    if (!needTools(t, "age", "age-keygen")) return;
    const fx = makeFixture(t, signal.toLowerCase());
    bigSource(fx);
    const { child, exited, stderr } = await startAndWaitForTmp(fx);
    child.kill(signal);
    const code = await exited;
    assert.equal(code, 1, stderr());
    assert.match(stderr(), new RegExp(`received ${signal}`));
    assert.deepEqual(readdirSync(fx.backups), []);
    assert.deepEqual(readdirSync(join(fx.lockDir, "..")), [], "the lock is released");
  });
}

/** True once the process has a handler for `signal` (its bit in /proc/PID/status SigCgt). */
function catches(pid: number, signal: number): boolean {
  try {
    const mask = /^SigCgt:\s*([0-9a-f]+)$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? "0";
    return (BigInt(`0x${mask}`) >> BigInt(signal - 1)) & 1n ? true : false;
  } catch {
    return false;
  }
}

test("SIGTERM while the config and plugins are still loading ends the run: exit 1, nothing written, no lock", async (t) => {
  if (!needTools(t, "age", "age-keygen")) return;
  const fx = makeFixture(t, "sigterm-loading");
  const child = sovSpawn(["run"], fx.env, { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  // `sov run` takes SIGINT, SIGTERM and SIGHUP together before it loads the config; Node itself
  // catches SIGTERM from the start (to restore the terminal), SIGHUP only once sov does
  while (!catches(child.pid!, 1) && child.exitCode === null) await sleep(1);
  child.kill("SIGTERM");
  assert.equal(await exited, 1, output);
  assert.match(output, /received SIGTERM/);
  assert.deepEqual(fx.files(), [], "nothing written");
  assert.equal(existsSync(fx.lockDir), false, "no lock left");
});
