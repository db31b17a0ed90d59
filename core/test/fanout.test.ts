// The fan-out gives the event loop a turn while a fast target takes chunk after chunk: a
// destination whose writes complete without I/O (an upload filling its next part) must not
// keep timers, signals and the progress line waiting until the whole stream has gone through.
import assert from "node:assert/strict";
import { Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { test } from "node:test";
import { Fanout } from "../src/fanout.js";

test("a target that completes every write at once still lets timers run between chunks", async () => {
  let taken = 0;
  const instant = new Writable({
    highWaterMark: 1 << 20,
    write(chunk: Buffer, _enc, callback) {
      taken += chunk.length;
      queueMicrotask(() => callback());
    },
  });
  const fanout = new Fanout([{ name: "instant", writable: instant }], () => {});
  const chunk = Buffer.alloc(64 * 1024);
  const total = 64 * 1024 * 1024;
  // Every chunk is available at once, as when the walker's port drains a backlog.
  const source = Readable.from((function* () {
    for (let sent = 0; sent < total; sent += chunk.length) yield chunk;
  })());
  let timerFiredAt: number | undefined;
  setTimeout(() => (timerFiredAt = taken), 0);
  await pipeline(source, fanout);
  assert.equal(fanout.bytes, total);
  assert.ok(timerFiredAt !== undefined && timerFiredAt < total / 2, `the timer ran only after ${timerFiredAt} of ${total} bytes`);
});
