import assert from "node:assert/strict";
import { mkdirSync, readdirSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { setTimeout as sleep } from "node:timers/promises";
import { test } from "node:test";
import { CHUNK_SIZE, CHUNKS_AHEAD } from "../src/source.js";
import { makeSource, tempDir } from "./helpers.js";

const MiB = 1 << 20;

/** `count` sparse files of 1 MiB: cheap to make, and stats.bytes then moves in 1 MiB steps. */
function sparseTree(root: string, count: number): void {
  mkdirSync(join(root, "data"));
  for (let i = 0; i < count; i++) {
    const file = join(root, "data", `f${String(i).padStart(4, "0")}`);
    writeFileSync(file, "");
    truncateSync(file, MiB);
  }
}

function threadCount(): number {
  return readdirSync("/proc/self/task").length;
}

test("a slow consumer holds the walker back: it never runs more than a few chunks ahead", async (t) => {
  const root = tempDir(t);
  sparseTree(root, 300);
  const source = makeSource({ paths: ["data"], root });
  let consumed = 0;
  let worstLead = 0;
  let peakRss = 0;
  const slow = new Writable({
    highWaterMark: 1,
    async write(chunk: Buffer, _encoding, done) {
      consumed += chunk.length;
      if (consumed % (50 * MiB) < chunk.length) {
        await sleep(250); // the walker has had time to run as far ahead as it is allowed
        worstLead = Math.max(worstLead, source.stats.bytes - consumed);
        peakRss = Math.max(peakRss, process.memoryUsage.rss());
      } else {
        await sleep(1);
      }
      done();
    },
  });
  await pipeline(source.open(new AbortController().signal), slow);

  assert.ok(consumed > 300 * MiB, "the whole 300 MiB went through");
  assert.equal(source.stats.bytes, 300 * MiB);
  // in the walker's hands, in this stream's buffer, in the consumer's: nothing more
  assert.ok(worstLead <= (CHUNKS_AHEAD + 3) * CHUNK_SIZE, `the walker ran ${(worstLead / MiB).toFixed(1)} MiB ahead`);
  assert.ok(peakRss < 200 * MiB, `peak RSS ${(peakRss / MiB).toFixed(0)} MiB`);
});

test("aborting the signal ends the stream with the reason and stops the worker thread", async (t) => {
  const root = tempDir(t);
  sparseTree(root, 64);
  const before = threadCount();
  const controller = new AbortController();
  const stream = makeSource({ paths: ["data"], root }).open(controller.signal);
  const closed = new Promise((resolve) => stream.once("close", resolve));
  const errored = new Promise<Error>((resolve) => stream.once("error", resolve));
  for await (const _chunk of stream) {
    assert.ok(threadCount() > before, "the walker runs in a thread of its own");
    controller.abort(new Error("interrupted by a signal"));
    break;
  }
  await closed;
  assert.equal((await Promise.race([errored, sleep(100).then(() => undefined)]))?.message, "interrupted by a signal");
  assert.ok(threadCount() <= before, "the worker thread is gone once the stream closed");
});

test("destroying the stream stops the worker thread", async (t) => {
  const root = tempDir(t);
  sparseTree(root, 64);
  const before = threadCount();
  const stream = makeSource({ paths: ["data"], root }).open(new AbortController().signal);
  await new Promise((resolve) => stream.once("readable", resolve));
  stream.destroy();
  await new Promise((resolve) => stream.once("close", resolve));
  assert.ok(threadCount() <= before);
});
