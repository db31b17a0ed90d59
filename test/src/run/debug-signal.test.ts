import assert from "node:assert/strict";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { chmodSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { test } from "node:test";
import { needRoot, needTools, REPO } from "../helpers.js";
import { makeFixture, type Fixture } from "./fixture.js";

/**
 * TCP sockets the process listens on, from /proc: precise even if another process holds 9229.
 * A process that has ended (it may, between a check of its exit code and this) listens on none.
 */
function listeningPorts(pid: number): string[] {
  const inodes = new Set<string>();
  for (const fd of readdirSafe(`/proc/${pid}/fd`)) {
    const m = /^socket:\[(\d+)\]$/.exec(readlinkSafe(`/proc/${pid}/fd/${fd}`));
    if (m) inodes.add(m[1]!);
  }
  const ports: string[] = [];
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    for (const line of readFileSync(table, "utf8").split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      // f[1] local address, f[3] state (0A: LISTEN), f[9] inode
      if (f[3] === "0A" && inodes.has(f[9]!)) ports.push(String(parseInt(f[1]!.split(":")[1]!, 16)));
    }
  }
  return ports;
}

function readlinkSafe(path: string): string {
  try {
    return readlinkSync(path);
  } catch {
    return "";
  }
}

/** Both streams in one string: info lines go to stdout, warnings and errors to output. */
function watch(child: ChildProcess) {
  let output = "";
  child.stdout!.on("data", (d) => (output += d));
  child.stderr!.on("data", (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code, signal) => resolve(code ?? (signal ? -1 : null))));
  return { exited, output: () => output };
}

async function waitFor(what: string, ready: () => boolean, child: ChildProcess): Promise<void> {
  for (let i = 0; i < 3000 && child.exitCode === null; i++) {
    if (ready()) return;
    await sleep(10);
  }
  throw new Error(`never saw ${what}`);
}

/** Sends SIGUSR1 a few times and asserts after each that the process opened no listening socket. */
async function pokeWithUsr1(child: ChildProcess, output: () => string): Promise<void> {
  for (let i = 0; i < 3; i++) {
    child.kill("SIGUSR1");
    await sleep(150);
    if (child.exitCode !== null) break;
    assert.deepEqual(listeningPorts(child.pid!), [], `the process listens after SIGUSR1; output: ${output()}`);
  }
  // "Debugger listening", or "Starting inspector ... failed" when 9229 is taken
  assert.doesNotMatch(output(), /Debugger listening|Starting inspector/);
}

/** A v0.1 config whose pre_hook sleeps, so the run is surely past Node's start-up when poked. */
function slowPreHook(fx: Fixture): void {
  const hook = join(fx.dir, "slow-pre-hook.sh");
  writeFileSync(hook, "#!/bin/sh\nsleep 1.5\n");
  chmodSync(hook, 0o755);
  fx.writeConfig({ extra: `pre_hook: ${hook}` });
}

for (const bin of ["sov.js", "sovereign-backup.js"]) {
  test(`${bin}: SIGUSR1 during a run opens no inspector, and the run completes normally`, async (t) => {
    // as root the pre_hook must be root-owned, which the fixture's files are
    if (!needTools(t, "age", "age-keygen") || !needRoot(t)) return;
    const fx = makeFixture(t, `usr1-${bin}`);
    slowPreHook(fx);
    const args = bin === "sov.js" ? ["run"] : [];
    const child = spawn(process.execPath, [join(REPO, "core/cli/bin", bin), ...args], { env: { ...process.env, ...fx.env }, stdio: ["ignore", "pipe", "pipe"] });
    t.after(() => child.kill("SIGKILL"));
    const { exited, output } = watch(child);
    await waitFor("the pre_hook start", () => /running pre_hook/.test(output()), child);
    await pokeWithUsr1(child, output);
    assert.equal(await exited, 0, output());
    assert.equal(fx.archives().length, 1, fx.files().join());
  });
}

test("sovereign-restore.js: SIGUSR1 during --verify opens no inspector, and the verify succeeds", async (t) => {
  if (!needTools(t, "age", "age-keygen", "tar")) return;
  const fx = makeFixture(t, "usr1-restore");
  // large enough that verifying takes a moment after the archive is opened
  const archive = join(fx.dir, "sovereign-backup-testhost-20260101-000000.tar.age");
  execFileSync("bash", ["-o", "pipefail", "-c", `head -c 96M /dev/urandom > ${fx.data}/big/noise.bin && tar -C ${fx.data} -cf - . | age -r ${fx.recipient} > ${archive}`]);
  const child = spawn(process.execPath, [join(REPO, "core/cli/bin/sovereign-restore.js"), "--verify", archive, "--identity", fx.identity], {
    env: { ...process.env, ...fx.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  t.after(() => child.kill("SIGKILL"));
  const { exited, output } = watch(child);
  // once it has the archive open, sov's own code is running
  await waitFor("the archive opened", () => readdirSafe(`/proc/${child.pid}/fd`).some((fd) => readlinkSafe(`/proc/${child.pid}/fd/${fd}`) === archive), child);
  await pokeWithUsr1(child, output);
  assert.equal(await exited, 0, output());
});

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
