// The connection going away in the middle of an upload, three ways: the sshd session process
// killed, a TCP reset, a link that goes silent. Each time the upload's stream fails (the core
// then aborts it), nothing appears under a final name, nothing hangs, close() returns.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Writable } from "node:stream";
import { test, type TestContext } from "node:test";
import { parseArchiveName, type Destination } from "@sov/core";
import { destinationFromPlugin } from "@sov/core/testing";
import plugin from "../src/index.js";
import { needTools, scratch, SSHD, startCuttingProxy, startSshd, type SshServer } from "./sshd.js";

const ARCHIVE = "sovereign-backup-losstest-20300101-020000.tar.zst.age";

async function setup(t: TestContext, label: string): Promise<{ dir: string; server: SshServer } | null> {
  if (!needTools(t, SSHD, "ssh-keygen")) return null;
  const dir = scratch(t, label);
  return { dir, server: await startSshd(t, dir) };
}

/** Writes 1 MiB chunks like the core's fan-out until the stream fails; returns the error. */
async function writeUntilFailure(writable: Writable, onProgress: (bytes: number) => void): Promise<Error> {
  let failure: Error | undefined;
  writable.on("error", (err: Error) => (failure = err));
  let bytes = 0;
  for (let i = 0; i < 512 && !failure; i++) {
    const chunk = randomBytes(1 << 20);
    bytes += chunk.length;
    if (!writable.write(chunk)) await Promise.race([once(writable, "drain"), once(writable, "close")]).catch(() => {});
    onProgress(bytes);
  }
  if (!failure) {
    writable.end();
    await once(writable, "close").catch(() => {});
  }
  assert.ok(failure, "the upload's stream must fail when the connection is gone");
  return failure;
}

async function expectCleanFailure(d: Destination, remoteDir: string, failure: Error, message: RegExp): Promise<void> {
  assert.match(failure.message, message);
  assert.match(failure.message, new RegExp(`upload of ${ARCHIVE.replace(/\./g, "\\.")}`), "the error names the archive");
  const started = Date.now();
  await assert.rejects(d.list(), "list() on a lost connection fails at once");
  await d.close();
  assert.ok(Date.now() - started < 5000, "nothing waits for a dead server");
  const left = readdirSync(remoteDir);
  assert.deepEqual(left.filter((n) => parseArchiveName(n)), [], `no archive under a final name: ${left.join()}`);
}

test("the sshd session killed mid-upload: the stream fails, no final name, close() returns", async (t) => {
  const env = await setup(t, "kill-session");
  if (!env) return;
  const { server } = env;
  const remoteDir = join(server.root, "killed");
  const d = await destinationFromPlugin(
    plugin,
    { host: "127.0.0.1", port: server.port, user: server.user, key_file: server.keyFile, known_hosts: server.knownHosts, directory: remoteDir },
    { instance: "offsite" },
  );
  await d.open();
  const staged = await d.stage(ARCHIVE);
  let killed = false;
  const failure = await writeUntilFailure(staged.writable, (bytes) => {
    if (killed || bytes < 4 << 20) return;
    killed = true;
    const sessions = server.sessions();
    assert.ok(sessions.length > 0, "an sshd session serves the upload");
    for (const pid of sessions) process.kill(pid, "SIGKILL");
  });
  await staged.abort();
  await expectCleanFailure(d, remoteDir, failure, /broke off|failed at byte|No response from server/);
});

test("a TCP reset mid-upload: the stream fails at once, abort() leaves the temporary file to the next open()", async (t) => {
  const env = await setup(t, "reset");
  if (!env) return;
  const { dir, server } = env;
  const proxy = await startCuttingProxy(t, server.port, 3 << 20, "reset");
  const knownHosts = join(dir, "kh-proxy");
  writeFileSync(knownHosts, server.knownHostsLine(proxy.port));
  const remoteDir = join(server.root, "reset");
  const options = { host: "127.0.0.1", port: proxy.port, user: server.user, key_file: server.keyFile, known_hosts: knownHosts, directory: remoteDir };
  const d = await destinationFromPlugin(plugin, options, { instance: "offsite" });
  await d.open();
  const staged = await d.stage(ARCHIVE);
  const failure = await writeUntilFailure(staged.writable, () => {});
  assert.ok(proxy.cut());
  await staged.abort();
  await expectCleanFailure(d, remoteDir, failure, /broke off/);
  // The same process opening again: its own pid is alive, so its temporary file stays (it
  // might be uploading); a later run (another pid) removes it, as sov-run.test shows.
  assert.equal(readdirSync(remoteDir).filter((n) => n.endsWith(".tmp")).length, 1);
});

test("a link that goes silent mid-upload: keepalives give up within a few timeouts instead of hanging the run", async (t) => {
  const env = await setup(t, "freeze");
  if (!env) return;
  const { dir, server } = env;
  const proxy = await startCuttingProxy(t, server.port, 2 << 20, "freeze");
  const knownHosts = join(dir, "kh-proxy");
  writeFileSync(knownHosts, server.knownHostsLine(proxy.port));
  const remoteDir = join(server.root, "freeze");
  const options = { host: "127.0.0.1", port: proxy.port, user: server.user, key_file: server.keyFile, known_hosts: knownHosts, directory: remoteDir, timeout: 1 };
  const d = await destinationFromPlugin(plugin, options, { instance: "offsite" });
  await d.open();
  const staged = await d.stage(ARCHIVE);
  const started = Date.now();
  const failure = await writeUntilFailure(staged.writable, () => {});
  assert.ok(proxy.cut());
  assert.ok(Date.now() - started < 20_000, `gave up after ${Date.now() - started} ms`);
  await staged.abort();
  await expectCleanFailure(d, remoteDir, failure, /broke off|failed at byte|keepalive|timed out/i);
});
