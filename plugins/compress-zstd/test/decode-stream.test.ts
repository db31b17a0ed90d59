/**
 * The zstd decoders, on the event-loop thread (a seekable restore's spans) and on a thread of
 * their own (a whole archive): each reads what the zstd CLI writes, whatever the chunking,
 * fails on a cut or corrupt stream, and produces output only as fast as its reader takes it.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { type Duplex, Readable, Writable } from "node:stream";
import { finished, pipeline } from "node:stream/promises";
import { test } from "node:test";
import { BELL_TO_MAIN, BELL_TO_WORKER, ByteRing, Doorbell, type SharedOutput } from "@sov/core/byte-ring";
import { needTools, recordThreads } from "@sov/core/testing";
import { createZstdDecodeStream } from "../src/decode-stream.js";
import { createThreadedZstdDecodeStream } from "../src/decode-thread.js";

const decoders: Array<[string, () => Duplex]> = [
  ["on the event-loop thread", createZstdDecodeStream],
  ["on a thread of its own", createThreadedZstdDecodeStream],
];

const zstdCli = (input: Buffer, ...args: string[]) => execFileSync("zstd", ["-q", "-c", ...args], { input, maxBuffer: 1 << 28 });

/** Decodes `compressed` fed in pieces of `chunk` bytes. */
async function decode(createDecoder: () => Duplex, compressed: Buffer, chunk = 65536): Promise<Buffer> {
  const pieces: Buffer[] = [];
  for (let i = 0; i < compressed.length; i += chunk) pieces.push(compressed.subarray(i, i + chunk));
  const out: Buffer[] = [];
  await pipeline(Readable.from(pieces), createDecoder(), new Writable({ write: (c: Buffer, _e, cb) => (out.push(c), cb()) }));
  return Buffer.concat(out);
}

for (const [how, createDecoder] of decoders) {
  test(`${how}: what the zstd CLI writes decodes to the same bytes, whole, in pieces and byte by byte`, async (t) => {
    if (!needTools(t, "zstd")) return;
    const plain = Buffer.concat([randomBytes(300_000), Buffer.alloc(2_000_000), Buffer.from("end")]);
    const compressed = zstdCli(plain, "-3");
    assert.ok((await decode(createDecoder, compressed)).equals(plain), "64 KiB pieces");
    assert.ok((await decode(createDecoder, compressed, compressed.length)).equals(plain), "one piece");
    const small = Buffer.concat([randomBytes(3000), Buffer.alloc(100_000)]);
    assert.ok((await decode(createDecoder, zstdCli(small), 1)).equals(small), "byte by byte");
    const twoFrames = Buffer.concat([zstdCli(Buffer.from("one ")), zstdCli(Buffer.from("two"))]);
    assert.equal((await decode(createDecoder, twoFrames, 7)).toString(), "one two", "frames one after another");
    assert.equal((await decode(createDecoder, zstdCli(Buffer.alloc(0)))).length, 0, "an empty frame");
  });

  test(`${how}: a stream cut inside a frame fails, and corrupt data fails`, async (t) => {
    if (!needTools(t, "zstd")) return;
    const compressed = zstdCli(randomBytes(200_000));
    await assert.rejects(decode(createDecoder, compressed.subarray(0, compressed.length - 10)), /ends in the middle of a frame/);
    const corrupt = Buffer.from(compressed);
    corrupt.fill(0x55, 100, 400);
    await assert.rejects(decode(createDecoder, corrupt));
  });

  test(`${how}: a highly compressed stream is decoded only as fast as the reader takes it`, async (t) => {
    if (!needTools(t, "zstd")) return;
    const compressed = zstdCli(Buffer.alloc(256 << 20), "-3"); // 256 MiB of zeros in a few KB
    const decoder = createDecoder();
    decoder.end(compressed);
    // the reader takes nothing for a while: what the decoder holds is what it buffered on its own
    await new Promise((resolve) => setTimeout(resolve, 300));
    assert.ok(decoder.readableLength <= 2 << 20, `${decoder.readableLength} bytes decoded ahead of the reader`);
    let total = 0;
    for await (const piece of decoder) total += (piece as Buffer).length;
    assert.equal(total, 256 << 20, "and then all of it");
  });
}

test("the decoder's thread ends when its stream is destroyed halfway, or fails on damage", async (t) => {
  if (!needTools(t, "zstd")) return;
  const compressed = zstdCli(randomBytes(8 << 20), "-1");
  const { exits } = await recordThreads(async () => {
    const decoder = createThreadedZstdDecodeStream();
    decoder.write(compressed.subarray(0, 4 << 20));
    for await (const piece of decoder) {
      assert.ok((piece as Buffer).length > 0);
      break; // destroys the stream
    }
    assert.ok(decoder.destroyed);
    // destroyed right after its first bytes, while its thread still loads zstd-napi (a thread
    // terminated there aborts the process): the thread must load, see the stop, and end
    const early = createThreadedZstdDecodeStream();
    early.write(compressed.subarray(0, 1 << 20));
    const closed = new Promise((resolve) => early.once("close", resolve));
    early.destroy();
    await closed; // after the thread's exit
  });
  assert.equal(exits.length, 2);
  for (const code of await Promise.all(exits)) assert.equal(code, 0, "ended by itself, not terminated (exit code 1)");
  // a destroyed decoder's thread is gone: nothing keeps this test's process alive (the runner
  // would time out), and a second one decodes as usual
  const corrupt = Buffer.from(compressed);
  corrupt.fill(0x55, 1 << 20, (1 << 20) + 300);
  await assert.rejects(decode(createThreadedZstdDecodeStream, corrupt), (err: Error) => !/thread/.test(err.message));
});

test("pieces the reader gives back are refilled, and what it reads is still the stream", async (t) => {
  if (!needTools(t, "zstd")) return;
  const plain = Buffer.concat([randomBytes(3 << 20), Buffer.alloc(5 << 20, 7), randomBytes(1 << 20)]);
  const decoder = createThreadedZstdDecodeStream() as Duplex & { recycle(piece: Buffer): void };
  decoder.end(zstdCli(plain, "-3"));
  const out: Buffer[] = [];
  const seen = new Set<ArrayBufferLike>();
  let pieces = 0;
  // 'data' hands over each piece as pushed (for await would join what is buffered)
  decoder.on("data", (piece: Buffer) => {
    pieces++;
    seen.add(piece.buffer);
    out.push(Buffer.from(piece)); // a copy, as restore's extraction thread takes one
    decoder.recycle(piece);
  });
  await new Promise((resolve, reject) => decoder.on("end", resolve).on("error", reject));
  assert.ok(Buffer.concat(out).equals(plain), "the bytes read are the stream's, in order");
  assert.ok(seen.size < pieces / 4, `${seen.size} buffers for ${pieces} pieces: the recycled ones were refilled`);
});

/**
 * Reads a shared output ring as restore's extraction thread does (but on this thread, with
 * waitAsync): a copy of each readable stretch, given back to the ring at once.
 */
async function readShared(decoder: Duplex & { shareOutput(): SharedOutput }, compressed: Buffer, chunk: number): Promise<{ out: Buffer; error?: Error; pushed: number }> {
  const shared = decoder.shareOutput();
  const ring = new ByteRing(shared.ring);
  const bells = new Int32Array(shared.control);
  const data = new Doorbell(bells, BELL_TO_MAIN);
  const room = new Doorbell(bells, BELL_TO_WORKER);
  let pushed = 0;
  decoder.on("data", () => pushed++);
  let ended: { error?: Error } | undefined;
  finished(decoder).then(
    () => (ended = {}),
    (error: Error) => (ended = { error }),
  );
  const pieces: Buffer[] = [];
  for (let i = 0; i < compressed.length; i += chunk) pieces.push(compressed.subarray(i, i + chunk));
  Readable.from(pieces).pipe(decoder);
  const out: Buffer[] = [];
  for (;;) {
    const mark = data.mark();
    const end = ended; // the end before the ring: bytes committed before it are never missed
    const view = ring.readView();
    if (view.length > 0) {
      out.push(Buffer.from(view));
      ring.consume(view.length);
      room.ring();
      continue;
    }
    if (end) return { out: Buffer.concat(out), error: end.error, pushed };
    await Promise.race([data.whenRung(mark), finished(decoder).catch(() => {})]);
  }
}

test("shareOutput: a reader on another thread takes the decoded bytes from the ring in place, and learns the end from the stream", async (t) => {
  if (!needTools(t, "zstd")) return;
  // several times the 4 MiB ring, so it wraps and the decoder waits for room
  const plain = Buffer.concat([randomBytes(3 << 20), Buffer.alloc(12 << 20), randomBytes(1 << 20), Buffer.from("end")]);
  const compressed = zstdCli(plain, "-3");
  const whole = await readShared(createThreadedZstdDecodeStream() as Duplex & { shareOutput(): SharedOutput }, compressed, 65536);
  assert.equal(whole.error, undefined);
  assert.ok(whole.out.equals(plain), `${whole.out.length} of ${plain.length} bytes, in order`);
  assert.equal(whole.pushed, 0, "nothing is pushed once the ring is shared");
  // cut inside the last frame: the stream fails as it would have, after what decoded before it
  const cut = await readShared(createThreadedZstdDecodeStream() as Duplex & { shareOutput(): SharedOutput }, compressed.subarray(0, compressed.length - 100), 65536);
  assert.match(String(cut.error?.message), /ends in the middle of a frame/);
  assert.ok(cut.out.length > 0 && plain.subarray(0, cut.out.length).equals(cut.out), "what decoded before the cut is there, unchanged");
});
