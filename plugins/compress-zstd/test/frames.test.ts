/**
 * The frame compressor: frames compressed in parallel on two threads come back in order, each
 * ended where the caller ended it, and decode with the zstd CLI to exactly the input; the
 * caller's buffers are its own again as soon as a write resolves.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { test } from "node:test";
import { needTools, recordThreads } from "@sov/core/testing";
import { createZstdFrames } from "../src/frames.js";

const MiB = 1024 * 1024;

/** A chunk alone in its ArrayBuffer, as source-fs pushes them: half random, half zeros. */
function chunk(i: number): Buffer {
  const b = Buffer.allocUnsafeSlow(MiB);
  randomBytes(MiB / 2).copy(b);
  b.fill(i, MiB / 2);
  return b;
}

test("frames come back in order, end where they were ended, and decode to the input", async (t) => {
  if (!needTools(t, "zstd")) return;
  const frames = createZstdFrames({ level: 3, threads: 2 });
  const input: Buffer[] = [];
  const output: Buffer[] = [];
  let framesEnded = 0;
  const take = (out: Array<Buffer | null>) => {
    for (const piece of out) piece === null ? framesEnded++ : output.push(piece);
  };
  try {
    for (let i = 0; i < 12; i++) {
      const c = chunk(i);
      input.push(Buffer.from(c));
      if (i % 3 === 2) {
        // a chunk cut in two, as the core cuts one at an entry boundary
        take(await frames.write(c.subarray(0, 1000)));
        take(await frames.endFrame());
        take(await frames.write(c.subarray(1000)));
      } else {
        take(await frames.write(c));
      }
      // the write resolved: the buffer is the caller's again; what it holds now must not reach the archive
      c.fill(0xee);
      if (i % 4 === 3) take(await frames.endFrame());
    }
    take(await frames.endFrame());
    take(await frames.finish());
  } finally {
    frames.dispose();
  }
  assert.equal(framesEnded, 4 + 3 + 1, "one end per endFrame, in order");
  const plain = execFileSync("zstd", ["-d", "-q", "-c"], { input: Buffer.concat(output), maxBuffer: 64 * MiB });
  assert.ok(plain.equals(Buffer.concat(input)), "the frames decode to the input");
});

test("a run of one frame starts one thread, and disposed threads end by themselves, even while loading", async (t) => {
  if (!needTools(t, "zstd")) return;
  // A small backup: one frame, so one of the two threads.
  const small = await recordThreads(async () => {
    const frames = createZstdFrames({ level: 3, threads: 2 });
    try {
      const out = [...(await frames.write(chunk(1))), ...(await frames.endFrame()), ...(await frames.finish())];
      assert.ok(out.includes(null), "the frame ended");
    } finally {
      frames.dispose();
    }
  });
  assert.equal(small.exits.length, 1, "one frame, one thread");
  // Disposed right after the first slab went out, while its thread still loads zstd-napi: a
  // thread terminated there aborts the process, so it must finish loading and end by itself.
  const early = await recordThreads(async () => {
    const frames = createZstdFrames({ level: 3, threads: 2 });
    await frames.write(chunk(2)); // fills the first slab, which goes out: thread 0 starts
    frames.dispose();
  });
  assert.equal(early.exits.length, 1);
  // Disposed while a write awaits its slab (an abort between two turns): the write fails and
  // starts no thread, since nothing would ever ask that one to end.
  const between = await recordThreads(async () => {
    const frames = createZstdFrames({ level: 3, threads: 2 });
    const writing = frames.write(chunk(4));
    frames.dispose();
    await assert.rejects(writing, /disposed/);
  });
  assert.equal(between.exits.length, 0, "no thread started after dispose");
  for (const code of await Promise.all([...small.exits, ...early.exits])) assert.equal(code, 0, "ended by itself, not terminated (exit code 1)");
});
