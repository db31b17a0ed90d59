import assert from "node:assert/strict";
import { setImmediate as tick } from "node:timers/promises";
import { test } from "node:test";
import { createLz4CompressStream, createLz4DecodeStream } from "../src/index.js";
import { compress, decode, mixed, MiB, text } from "./helpers.js";

const FRAME_MAGIC = Buffer.from([0x04, 0x22, 0x4d, 0x18]);

function countFrames(compressed: Buffer): number {
  // Good enough for a test: our frames are mostly text, where the magic is unlikely by chance.
  let count = 0;
  for (let i = compressed.indexOf(FRAME_MAGIC); i !== -1; i = compressed.indexOf(FRAME_MAGIC, i + 1)) count++;
  return count;
}

for (const [label, size] of [
  ["0 bytes", 0],
  ["1 byte", 1],
  ["4 MiB exactly", 4 * MiB],
  ["4 MiB + 1", 4 * MiB + 1],
  ["20 MB mixed", 20_000_000],
] as const) {
  test(`round trip through the compressor and decoder: ${label}`, async () => {
    const data = size === 4 * MiB || size === 4 * MiB + 1 ? text(size) : mixed(size);
    const compressed = await compress(data);
    assert.ok(compressed.subarray(0, 4).equals(FRAME_MAGIC), "output starts with an lz4 frame");
    const decoded = await decode(compressed);
    assert.equal(decoded.length, data.length);
    assert.ok(decoded.equals(data), "decoded bytes differ from the input");
  });
}

test("one frame per chunk, none extra when the input fills the last chunk exactly", async () => {
  assert.equal(countFrames(await compress(Buffer.alloc(0))), 1, "empty input still gives one (empty) frame");
  assert.equal(countFrames(await compress(text(4 * MiB))), 1);
  assert.equal(countFrames(await compress(text(4 * MiB + 1))), 2);
  assert.equal(countFrames(await compress(text(1 * MiB), 256 * 1024)), 4);
});

test("the compressor gives the same bytes however the input is written", async () => {
  const data = mixed(9 * MiB);
  const reference = await compress(data, 1 * MiB);
  for (const inputChunk of [9 * MiB, 1 * MiB, 1_000_003, 4093]) {
    const out = await compress(data, 1 * MiB, inputChunk);
    assert.ok(out.equals(reference), `input written in ${inputChunk}-byte chunks`);
  }
  assert.ok(reference.length < data.length * 0.8, "mixed data compresses");
});

test("the compressor respects backpressure: a reader that stops holds back the writer", async () => {
  const chunkSize = 256 * 1024;
  const stream = createLz4CompressStream({ chunkSize });
  let accepted = 0;
  const input = text(32 * MiB);
  for (let offset = 0; offset < input.length; offset += 64 * 1024) {
    stream.write(input.subarray(offset, offset + 64 * 1024), () => {
      accepted += 64 * 1024;
    });
  }
  for (let i = 0; i < 50; i++) await tick();
  // Frames in flight, the one being filled and the output waiting to be read: a few chunks, not 32 MiB.
  assert.ok(accepted <= 8 * chunkSize, `accepted ${accepted} bytes with nobody reading`);
  const decoded: Buffer[] = [];
  const decoder = createLz4DecodeStream();
  decoder.on("data", (chunk: Buffer) => decoded.push(chunk));
  stream.pipe(decoder);
  stream.end();
  await new Promise((resolve, reject) => decoder.on("end", resolve).on("error", reject));
  assert.ok(Buffer.concat(decoded).equals(input));
});

test("the decoder respects backpressure: a tiny input of huge blocks is not decoded ahead of the reader", async () => {
  // 64 MiB of one repeated line compresses about 250:1, so the whole stream is one small write.
  const data = Buffer.alloc(64 * MiB, "sov backup line\n");
  const compressed = await compress(data);
  assert.ok(compressed.length < MiB);
  const decoder = createLz4DecodeStream();
  decoder.write(compressed);
  decoder.end();
  for (let i = 0; i < 50; i++) await tick();
  assert.ok(decoder.readableLength <= 4 * MiB, `${decoder.readableLength} bytes decoded with nobody reading`);
  let total = 0;
  for await (const chunk of decoder) {
    assert.ok((chunk as Buffer).equals(data.subarray(total, total + (chunk as Buffer).length)));
    total += (chunk as Buffer).length;
  }
  assert.equal(total, data.length);
});

test("a slow reader gets the whole stream (no stall between paused blocks and new input)", async () => {
  const data = mixed(24 * MiB);
  const compressed = await compress(data);
  const decoder = createLz4DecodeStream();
  const writer = (async () => {
    for (let offset = 0; offset < compressed.length; offset += 1_000_000) {
      if (!decoder.write(compressed.subarray(offset, offset + 1_000_000))) await new Promise((r) => decoder.once("drain", r));
    }
    decoder.end();
  })();
  const out: Buffer[] = [];
  for await (const chunk of decoder) {
    out.push(chunk as Buffer);
    if (out.length % 3 === 0) await tick();
  }
  await writer;
  assert.ok(Buffer.concat(out).equals(data));
});

test("destroying the compressor with frames in flight ends it cleanly, with the caller's error", async () => {
  const stream = createLz4CompressStream({ chunkSize: 64 * 1024 });
  const pushedAfter: Buffer[] = [];
  stream.write(text(512 * 1024));
  const failure = new Error("pipeline aborted");
  const errored = new Promise<Error>((resolve) => stream.on("error", resolve));
  stream.destroy(failure);
  stream.on("data", (chunk: Buffer) => pushedAfter.push(chunk));
  assert.equal(await errored, failure);
  for (let i = 0; i < 20; i++) await tick();
  assert.equal(pushedAfter.length, 0, "no output after destroy()");
});
