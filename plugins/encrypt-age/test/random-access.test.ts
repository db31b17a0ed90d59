import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash, randomBytes, randomInt } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, test } from "node:test";
import { generateX25519Identity } from "age-encryption";
import { ConfigError, RunError, silentLogger, type RangeReader } from "@sov/core";
import { openAgeRange } from "../src/index.js";
import { cctvVectors } from "./cctv-vectors.js";
import { encrypt, makeKeyPair, needTools, scratch } from "./helpers.js";

const CHUNK = 64 * 1024;
const SEALED = CHUNK + 16;
const SIZES = [0, 1, 65535, 65536, 65537, 3 * 65536, 1024 * 1024 + 4321];
const RANDOM_RANGES = 300;
const CHUNK_FAILED = (chunk: number) =>
  new RegExp(`^age payload chunk ${chunk} failed to authenticate: the archive is damaged or was changed$`);

/** A RangeReader over a buffer that holds its caller to the contract and counts what it reads. */
class BufferReader implements RangeReader {
  reads = 0;
  bytesRead = 0;
  readonly #bytes: Buffer;

  constructor(bytes: Buffer) {
    this.#bytes = bytes;
  }

  get size(): number {
    return this.#bytes.length;
  }

  async read(start: number, end: number): Promise<Buffer> {
    assert.ok(Number.isInteger(start) && Number.isInteger(end) && start >= 0 && start <= end && end <= this.size,
      `ciphertext read [${start}, ${end}) of ${this.size} bytes`);
    this.reads++;
    this.bytesRead += end - start;
    // A copy: the decoder must not depend on getting views of one buffer.
    return Buffer.from(this.#bytes.subarray(start, end));
  }
}

function open(identityFile: string | undefined, file: Buffer | BufferReader): Promise<RangeReader> {
  const reader = file instanceof BufferReader ? file : new BufferReader(file);
  return openAgeRange(reader, { identityFile, log: silentLogger() });
}

/** Offset of the first sealed chunk: past the header's `--- <mac>\n` line and the 16-byte nonce. */
function payloadStart(file: Buffer): number {
  return file.indexOf("\n", file.indexOf("\n---") + 1) + 1 + 16;
}

function flipped(file: Buffer, offset: number): Buffer {
  const copy = Buffer.from(file);
  copy[offset]! ^= 0x01;
  return copy;
}

/** The edges (empty, whole, first and last byte, around every chunk boundary), then random ranges. */
function rangesFor(size: number): Array<[number, number]> {
  const ranges: Array<[number, number]> = [[0, 0], [0, size], [size, size]];
  if (size > 0) ranges.push([0, 1], [size - 1, size]);
  for (let boundary = CHUNK; boundary < size; boundary += CHUNK) {
    ranges.push([boundary - 1, boundary], [boundary, boundary + 1], [boundary - 1, boundary + 1], [boundary - 10, size]);
  }
  for (let i = 0; i < RANDOM_RANGES; i++) {
    const a = randomInt(size + 1);
    // Half short ranges, half anywhere.
    const b = i % 2 ? Math.min(size, a + randomInt(200)) : randomInt(size + 1);
    ranges.push([Math.min(a, b), Math.max(a, b)]);
  }
  return ranges;
}

async function assertEveryRange(reader: RangeReader, plaintext: Buffer, label: string): Promise<void> {
  assert.equal(reader.size, plaintext.length, `${label}: size`);
  for (const [start, end] of rangesFor(plaintext.length)) {
    const got = await reader.read(start, end);
    assert.ok(got.equals(plaintext.subarray(start, end)), `${label}: [${start}, ${end})`);
  }
}

async function assertRejects(promise: Promise<unknown>, kind: typeof RunError | typeof ConfigError | typeof RangeError, pattern: RegExp): Promise<void> {
  await assert.rejects(promise, (err: Error) => {
    assert.ok(err instanceof kind, `expected ${kind.name}, got ${String(err)}`);
    assert.match(err.message, pattern);
    return true;
  });
}

describe("openAgeRange", () => {
  test("every range of files age -r writes equals the plaintext slice", async (t) => {
    if (!needTools(t, "age")) return;
    const dir = scratch(t);
    const alice = await makeKeyPair(dir, "alice");
    for (const size of SIZES) {
      const plaintext = randomBytes(size);
      const file = execFileSync("age", ["-r", alice.recipient], { input: plaintext, maxBuffer: 64 * 1024 * 1024 });
      await assertEveryRange(await open(alice.identityFile, file), plaintext, `age -r, ${size} bytes`);
    }
  });

  test("every range of files the encryptor writes equals the plaintext slice", async (t) => {
    const alice = await makeKeyPair(scratch(t), "alice");
    for (const size of SIZES) {
      const plaintext = randomBytes(size);
      // Odd write sizes, so chunk boundaries fall inside writes.
      const file = await encrypt([alice.recipient], plaintext, 10_007);
      await assertEveryRange(await open(alice.identityFile, file), plaintext, `encryptor, ${size} bytes`);
    }
  });

  test("open reads the header once, and a read only the chunks it needs, in one read", async (t) => {
    const alice = await makeKeyPair(scratch(t), "alice");
    const plaintext = randomBytes(1024 * 1024);
    const ciphertext = new BufferReader(await encrypt([alice.recipient], plaintext));
    const reader = await open(alice.identityFile, ciphertext);
    assert.equal(ciphertext.reads, 1, "open: one read for header and nonce");
    assert.ok(ciphertext.bytesRead <= 64 * 1024, `open read ${ciphertext.bytesRead} bytes`);

    const reads = [
      { start: 500_000, end: 500_010, chunks: 1 },
      { start: 2 * CHUNK - 5, end: 2 * CHUNK + 5, chunks: 2 },
      { start: plaintext.length - 1, end: plaintext.length, chunks: 1 },
    ];
    for (const { start, end, chunks } of reads) {
      ciphertext.reads = 0;
      ciphertext.bytesRead = 0;
      assert.ok((await reader.read(start, end)).equals(plaintext.subarray(start, end)));
      assert.equal(ciphertext.reads, 1, `[${start}, ${end}): reads`);
      assert.ok(ciphertext.bytesRead <= chunks * SEALED, `[${start}, ${end}): read ${ciphertext.bytesRead} bytes`);
    }
  });

  test("bounds: reads outside the plaintext are a RangeError, empty reads are empty", async (t) => {
    const alice = await makeKeyPair(scratch(t), "alice");
    const reader = await open(alice.identityFile, await encrypt([alice.recipient], randomBytes(1000)));
    for (const [start, end] of [[-1, 10], [0, 1001], [10, 9], [0.5, 10], [Number.NaN, 1]] as const) {
      await assertRejects(reader.read(start, end), RangeError, /^cannot read \[.*\) of 1000 plaintext bytes$/);
    }
    for (const at of [0, 500, 1000]) assert.equal((await reader.read(at, at)).length, 0);
  });

  describe("a damaged or cut file", () => {
    // Five full chunks and a short one.
    const plaintext = randomBytes(5 * CHUNK + 1000);

    test("a flipped byte in chunk k fails exactly the reads that touch chunk k", async (t) => {
      const alice = await makeKeyPair(scratch(t), "alice");
      const file = await encrypt([alice.recipient], plaintext);
      const start = payloadStart(file);
      // Chunk 3 (index 2): once in its ciphertext, once in its tag.
      for (const offset of [start + 2 * SEALED + 1234, start + 3 * SEALED - 1]) {
        const reader = await open(alice.identityFile, flipped(file, offset));
        for (const [a, b] of [[0, 2 * CHUNK], [3 * CHUNK, plaintext.length], [2 * CHUNK - 1, 2 * CHUNK]]) {
          assert.ok((await reader.read(a!, b!)).equals(plaintext.subarray(a, b)), `[${a}, ${b})`);
        }
        const touching = [[2 * CHUNK, 2 * CHUNK + 1], [2 * CHUNK - 1, 2 * CHUNK + 1], [3 * CHUNK - 1, 3 * CHUNK + 1], [0, plaintext.length]];
        for (const [a, b] of touching) {
          await assertRejects(reader.read(a!, b!), RunError, CHUNK_FAILED(3));
        }
      }
    });

    test("a file cut at a chunk boundary fails when its new final chunk is read", async (t) => {
      const alice = await makeKeyPair(scratch(t), "alice");
      const file = await encrypt([alice.recipient], plaintext);
      const cut = file.subarray(0, payloadStart(file) + 5 * SEALED);
      const reader = await open(alice.identityFile, cut);
      assert.equal(reader.size, 5 * CHUNK);
      // Only the chunks read are checked: the cut is not seen before chunk 5 is read.
      assert.ok((await reader.read(0, 4 * CHUNK)).equals(plaintext.subarray(0, 4 * CHUNK)));
      await assertRejects(reader.read(5 * CHUNK - 1, 5 * CHUNK), RunError, CHUNK_FAILED(5));
      await assertRejects(reader.read(0, reader.size), RunError, CHUNK_FAILED(5));
    });

    test("a file cut inside a chunk fails when that chunk is read", async (t) => {
      const alice = await makeKeyPair(scratch(t), "alice");
      const file = await encrypt([alice.recipient], plaintext);
      const reader = await open(alice.identityFile, file.subarray(0, payloadStart(file) + 2 * SEALED + 500));
      assert.equal(reader.size, 2 * CHUNK + 500 - 16);
      assert.ok((await reader.read(0, CHUNK)).equals(plaintext.subarray(0, CHUNK)));
      await assertRejects(reader.read(2 * CHUNK, 2 * CHUNK + 1), RunError, CHUNK_FAILED(3));
    });

    test("sizes no age payload has are refused at open", async (t) => {
      const alice = await makeKeyPair(scratch(t), "alice");
      const file = await encrypt([alice.recipient], plaintext);
      const start = payloadStart(file);
      const full = await encrypt([alice.recipient], randomBytes(2 * CHUNK));
      const cases: Array<[Buffer, RegExp]> = [
        [Buffer.alloc(0), /^archive is truncated: it is empty$/],
        [file.subarray(0, start - 30), /^archive is truncated: it ends inside the age header/],
        [file.subarray(0, start - 7), /^archive is truncated or damaged: it ends before the payload nonce$/],
        [file.subarray(0, start), /^archive is truncated or damaged: chunk 1 is shorter than its authentication tag$/],
        [file.subarray(0, start + 3 * SEALED + 15), /^archive is truncated or damaged: chunk 4 is shorter than its authentication tag$/],
        [Buffer.concat([full, Buffer.from("x")]), /^archive is truncated or damaged: chunk 3 is shorter than its authentication tag$/],
        [Buffer.concat([full, Buffer.alloc(16)]), /^archive is truncated or damaged: chunk 3 is an empty final chunk after data$/],
      ];
      for (const [bytes, pattern] of cases) await assertRejects(open(alice.identityFile, bytes), RunError, pattern);
    });
  });

  test("no identity file, or the wrong one, is a ConfigError", async (t) => {
    const dir = scratch(t);
    const alice = await makeKeyPair(dir, "alice");
    const mallory = await makeKeyPair(dir, "mallory");
    const file = await encrypt([alice.recipient], randomBytes(1000));
    await assertRejects(open(undefined, file), ConfigError, /^decrypting needs an age identity file, and none was given$/);
    await assertRejects(open(mallory.identityFile, file), ConfigError,
      /^no identity matches this archive's recipients \(tried 1 identity from .*mallory\.key\); is it the right key file\?$/);
    await assertRejects(open(join(dir, "nope.key"), file), ConfigError, /^cannot read the age identity file .*nope\.key \(ENOENT\)$/);
  });

  test("C2SP CCTV vectors", async (t) => {
    const dir = scratch(t);
    // A vector without identities (a header that fails to parse) still needs some identity.
    const throwaway = await generateX25519Identity();
    const counts = new Map<string, number>();
    for (const v of cctvVectors().filter((vector) => !vector.unsupported)) {
      const identityFile = join(dir, `${v.name}.key`);
      writeFileSync(identityFile, `${(v.identities.length ? v.identities : [throwaway]).join("\n")}\n`);
      const opened = open(identityFile, v.file);
      if (v.expect === "success") {
        const reader = await opened;
        assert.equal(sha256(await reader.read(0, reader.size)), v.payload, `${v.name}: payload hash`);
      } else if (v.expect === "payload failure") {
        // Refused at open when the size gives it away, else when the bad chunk is read.
        const read = opened.then((reader) => reader.read(0, reader.size));
        await assertRejects(read, RunError, /^(archive is truncated or damaged: |age payload chunk \d+ failed to authenticate: )/);
      } else {
        const { kind, pattern } = OPEN_FAILURE[v.expect]!;
        await assertRejects(opened, kind, pattern);
      }
      counts.set(v.expect, (counts.get(v.expect) ?? 0) + 1);
    }
    t.diagnostic(JSON.stringify(Object.fromEntries(counts)));
    assert.ok([...counts.values()].reduce((a, b) => a + b) >= 80, "fewer vectors than cctv.test.ts applies");
    for (const expect of ["success", "payload failure", "no match", "HMAC failure", "header failure"]) {
      assert.ok(counts.get(expect), `no applicable '${expect}' vector`);
    }
  });
});

/** How vectors that fail before the payload must fail: at open, as the stream decoder says. */
const OPEN_FAILURE: Record<string, { kind: typeof RunError | typeof ConfigError; pattern: RegExp }> = {
  "no match": { kind: ConfigError, pattern: /^no identity matches this archive's recipients/ },
  "HMAC failure": { kind: RunError, pattern: /^age header is invalid or corrupt/ },
  "header failure": {
    kind: RunError,
    pattern: /^(age header is invalid or corrupt|archive is truncated: it (is empty|ends inside the age header)|archive is truncated or damaged: it ends before the payload nonce)/,
  },
};

const sha256 = (data: Uint8Array) => createHash("sha256").update(data).digest("hex");
