import assert from "node:assert/strict";
import { test } from "node:test";
import { Lz4FormatError } from "../src/index.js";
import { xxh32 } from "../src/xxhash32.js";
import { compress, decode, mixed, MiB, text } from "./helpers.js";

interface RawBlock {
  /** The block's bytes as stored: raw LZ4 sequences, or the data itself when `stored`. */
  readonly bytes: Buffer;
  readonly stored?: boolean;
}

interface FrameSpec {
  readonly blocks: readonly RawBlock[];
  /** What the frame decodes to, for the content checksum and content size. */
  readonly content: Buffer;
  readonly linked?: boolean;
  readonly blockChecksums?: boolean;
  readonly contentChecksum?: boolean;
  readonly contentSize?: boolean;
  /** BD code: 4 = 64 KiB ... 7 = 4 MiB. */
  readonly blockSizeCode?: number;
}

/** Writes an LZ4 frame byte by byte from the format spec, independent of lz4-napi and the CLI. */
function buildFrame(spec: FrameSpec): Buffer {
  const flg =
    0x40 |
    (spec.linked ? 0 : 0x20) |
    (spec.blockChecksums ? 0x10 : 0) |
    (spec.contentSize ? 0x08 : 0) |
    (spec.contentChecksum ?? true ? 0x04 : 0);
  const descriptor: Buffer[] = [Buffer.from([flg, (spec.blockSizeCode ?? 4) << 4])];
  if (spec.contentSize) {
    const size = Buffer.alloc(8);
    size.writeBigUInt64LE(BigInt(spec.content.length));
    descriptor.push(size);
  }
  const desc = Buffer.concat(descriptor);
  const parts: Buffer[] = [Buffer.from([0x04, 0x22, 0x4d, 0x18]), desc, Buffer.from([(xxh32(desc) >>> 8) & 0xff])];
  for (const block of spec.blocks) {
    parts.push(u32((block.bytes.length | (block.stored ? 0x8000_0000 : 0)) >>> 0), block.bytes);
    if (spec.blockChecksums) parts.push(u32(xxh32(block.bytes)));
  }
  parts.push(u32(0));
  if (spec.contentChecksum ?? true) parts.push(u32(xxh32(spec.content)));
  return Buffer.concat(parts);
}

function u32(value: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(value >>> 0);
  return b;
}

function skippable(payload: Buffer, nibble = 0): Buffer {
  return Buffer.concat([u32(0x184d2a50 + nibble), u32(payload.length), payload]);
}

const TRUNCATED = /lz4 stream is truncated: /;

test("decodes a hand-built frame of stored blocks, checking block and content checksums", async () => {
  const content = Buffer.from("hello, stored lz4 blocks");
  const frame = buildFrame({
    blocks: [{ bytes: content.subarray(0, 10), stored: true }, { bytes: content.subarray(10), stored: true }],
    content,
    blockChecksums: true,
    contentSize: true,
  });
  assert.ok((await decode(frame)).equals(content));
  assert.ok((await decode(frame, [1])).equals(content), "byte by byte");
});

test("a linked block copies from the previous block's output", async () => {
  // Block 2 is one match reaching 8 bytes back into block 1 (token 0x04: no literals, match length
  // 4 + 4; offset 8), then the 5 literals the format requires at the end (token 0x50).
  const linkedBlock = Buffer.concat([Buffer.from([0x04, 0x08, 0x00, 0x50]), Buffer.from("12345")]);
  const content = Buffer.from("abcdefghabcdefgh12345");
  const frame = buildFrame({ blocks: [{ bytes: Buffer.from("abcdefgh"), stored: true }, { bytes: linkedBlock }], content, linked: true });
  assert.ok((await decode(frame)).equals(content));
  assert.ok((await decode(frame, [1])).equals(content), "byte by byte");
  // The same bytes in an independent-blocks frame reach before the block's start: an error, not garbage.
  const independent = buildFrame({ blocks: [{ bytes: Buffer.from("abcdefgh"), stored: true }, { bytes: linkedBlock }], content });
  await assert.rejects(decode(independent), /lz4 stream is corrupt: block 2 does not decode/);
});

test("byte-by-byte input decodes to the same bytes as whole-buffer input", async () => {
  const data = mixed(300_000);
  const compressed = await compress(data, 64 * 1024);
  assert.ok((await decode(compressed, [1])).equals(data));
});

test("odd chunk sizes on a big input decode to the same bytes", async () => {
  const data = mixed(20_000_000);
  const compressed = await compress(data);
  assert.ok((await decode(compressed, [1, 7, 4093, 65537, MiB + 3, 3])).equals(data));
  assert.ok((await decode(compressed, [compressed.length])).equals(data), "all in one chunk");
});

test("skippable frames are skipped, before, between and after frames, whatever their magic", async () => {
  const a = text(100_000, 1);
  const b = text(5_000, 2);
  const stream = Buffer.concat([
    skippable(Buffer.from("leading metadata"), 0),
    await compress(a, 64 * 1024),
    skippable(Buffer.alloc(0), 0xf),
    skippable(Buffer.alloc(70_000, 0xaa), 7),
    await compress(b),
    skippable(Buffer.from("trailer"), 3),
  ]);
  const expected = Buffer.concat([a, b]);
  assert.ok((await decode(stream)).equals(expected));
  assert.ok((await decode(stream, [1, 2, 3, 5, 8, 13])).equals(expected));
});

test("a flipped content checksum is reported as a content checksum mismatch", async () => {
  const compressed = await compress(text(1000));
  const bad = Buffer.from(compressed);
  bad[bad.length - 1]! ^= 0x01;
  await assert.rejects(decode(bad), (err: Error) => {
    assert.ok(err instanceof Lz4FormatError);
    assert.match(err.message, /^lz4 stream is corrupt: content checksum mismatch \(frame 1, input byte \d+\)$/);
    return true;
  });
});

test("a flipped byte in a stored block fails the content checksum", async () => {
  const content = Buffer.from("stored bytes are not checked by the block decoder");
  const frame = buildFrame({ blocks: [{ bytes: content, stored: true }], content });
  frame[frame.indexOf("checked")]! ^= 0x20;
  await assert.rejects(decode(frame), /lz4 stream is corrupt: content checksum mismatch/);
});

test("a flipped byte in a frame header fails the header checksum", async () => {
  const frame = await compress(text(1000));
  const bad = Buffer.from(frame);
  bad[5]! ^= 0x10; // BD: a different block maximum size
  await assert.rejects(decode(bad), /lz4 stream is corrupt: header checksum mismatch \(frame 1, input byte 4\)/);
});

test("a flipped byte anywhere is an error, never silently wrong output", async () => {
  const data = mixed(6 * MiB);
  const compressed = await compress(data, MiB);
  for (let i = 0; i < 40; i++) {
    const position = Math.floor(((i + 0.5) / 40) * compressed.length);
    const bad = Buffer.from(compressed);
    bad[position]! ^= 1 << i % 8;
    await assert.rejects(decode(bad), (err: Error) => {
      assert.ok(err instanceof Lz4FormatError, `flip at ${position}: ${err.message}`);
      assert.match(err.message, /^lz4 stream is (corrupt|truncated): /);
      return true;
    });
  }
});

test("a stream cut short is reported as truncated, wherever it is cut", async () => {
  const compressed = await compress(mixed(5 * MiB), 4 * MiB);
  const half = Math.floor(compressed.length / 2);
  for (const cut of [1, 3, 4, 6, 7, 11, 1000, half, compressed.length - 5, compressed.length - 4, compressed.length - 1]) {
    await assert.rejects(decode(compressed.subarray(0, cut)), TRUNCATED, `cut at ${cut}`);
  }
  const skip = skippable(Buffer.alloc(100));
  await assert.rejects(decode(skip.subarray(0, 50)), /lz4 stream is truncated: it ends inside skippable frame 1/);
});

test("empty input is an error: even an empty archive is one lz4 frame", async () => {
  await assert.rejects(decode(Buffer.alloc(0)), /lz4 stream is truncated: the input is empty/);
});

test("bytes after the last frame that are not a frame are reported", async () => {
  const compressed = await compress(text(1000));
  const withGarbage = Buffer.concat([compressed, Buffer.from("PK\u0003\u0004 not lz4")]);
  await assert.rejects(decode(withGarbage), /lz4 stream is corrupt: unexpected data after the last frame: magic number 0x04034b50 \(frame 2, input byte \d+\)/);
});

test("data that is not lz4 at all is named as such", async () => {
  const zstdMagic = Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0]);
  await assert.rejects(decode(zstdMagic), /lz4 stream is corrupt: not lz4 data: magic number 0xfd2fb528 \(frame 1, input byte 0\)/);
});

test("a block larger than the frame's maximum is rejected before it is buffered", async () => {
  const content = Buffer.alloc(70_000, 1);
  const frame = buildFrame({ blocks: [{ bytes: content, stored: true }], content, blockSizeCode: 4 });
  await assert.rejects(decode(frame.subarray(0, 20)), /lz4 stream is corrupt: block of 70000 bytes exceeds the frame's 65536-byte maximum/);
});

test("a frame whose content size disagrees with its blocks is corrupt", async () => {
  const content = Buffer.from("twelve bytes");
  const frame = buildFrame({ blocks: [{ bytes: content, stored: true }], content, contentSize: true });
  frame.writeBigUInt64LE(13n, 6);
  frame[14] = (xxh32(frame.subarray(4, 14)) >>> 8) & 0xff;
  await assert.rejects(decode(frame), /lz4 stream is corrupt: frame announces 13 bytes but decodes to 12/);
});

test("a frame that needs a dictionary is refused with the reason", async () => {
  const desc = Buffer.from([0x65, 0x40, 1, 0, 0, 0]);
  const frame = Buffer.concat([u32(0x184d2204), desc, Buffer.from([(xxh32(desc) >>> 8) & 0xff]), u32(0)]);
  await assert.rejects(decode(frame), /lz4 frame needs dictionary 1 \(lz4 -D\)/);
});
