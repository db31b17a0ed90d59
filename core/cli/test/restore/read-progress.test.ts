import assert from "node:assert/strict";
import { setTimeout as sleep } from "node:timers/promises";
import { test } from "node:test";
import { ReadProgress } from "../../src/restore/read-progress.js";
import { captureLogger } from "./helpers.js";

const MiB = 2 ** 20;

test("the read progress line says how much of the archive has arrived, and how fast", () => {
  const p = new ReadProgress("a.tar.zst.age", 4 * MiB, { tty: false, write: () => {}, log: captureLogger() });
  p.count(MiB);
  assert.match(p.line(), /^reading a\.tar\.zst\.age: 1(\.0)? MiB of 4(\.0)? MiB \(25%\), .+\/s$/);
  p.count(3 * MiB);
  assert.match(p.line(), /4(\.0)? MiB of 4(\.0)? MiB \(100%\)/);
  p.stop();
  const unknown = new ReadProgress("b.tar.age", undefined, { tty: false, write: () => {}, log: captureLogger() });
  unknown.count(10);
  assert.doesNotMatch(unknown.line(), / of /);
  unknown.stop();
});

test("at a terminal the line is redrawn in place and cleared at the end; elsewhere it is logged", async () => {
  const written: string[] = [];
  const tty = new ReadProgress("a.tar.zst.age", 2 * MiB, { tty: true, write: (s) => written.push(s), log: captureLogger(), intervalMs: 5 });
  tty.count(MiB);
  await sleep(30);
  tty.stop();
  assert.ok(written.length >= 2, written.join("|"));
  assert.match(written[0]!, /^\r\x1b\[Kreading a\.tar\.zst\.age: 1(\.0)? MiB of 2(\.0)? MiB \(50%\)/);
  assert.equal(written.at(-1), "\r\x1b[K", "stop() clears the line for what follows");
  const count = written.length;
  await sleep(20);
  assert.equal(written.length, count, "nothing is drawn after stop()");

  const log = captureLogger();
  const logged = new ReadProgress("a.tar.zst.age", 2 * MiB, { tty: false, write: () => assert.fail("no terminal"), log, intervalMs: 5 });
  await sleep(20);
  logged.stop();
  assert.match(log.text(), /info: progress: reading a\.tar\.zst\.age: 0 B of 2(\.0)? MiB \(0%\)/);
});
