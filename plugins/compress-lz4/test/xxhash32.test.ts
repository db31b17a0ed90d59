import assert from "node:assert/strict";
import { test } from "node:test";
import { XxHash32, xxh32 } from "../src/xxhash32.js";
import { mixed } from "./helpers.js";

test("xxh32 matches the reference vectors", () => {
  // From the xxHash reference implementation and python-xxhash's documentation.
  assert.equal(xxh32(Buffer.alloc(0)), 0x02cc5d05);
  assert.equal(xxh32(Buffer.from("a")), 0x550d7456);
  assert.equal(xxh32(Buffer.from("abc")), 0x32d153ff);
  assert.equal(xxh32(Buffer.from("Nobody inspects the spammish repetition")), 0xe2293b2f);
});

test("xxh32 gives the header checksums lz4 writes", () => {
  // `printf '' | lz4 -c` starts 04 22 4d 18 | 64 40 | a7: FLG, BD, then (xxh32(FLG BD) >> 8) & 0xff.
  assert.equal((xxh32(Buffer.from([0x64, 0x40])) >>> 8) & 0xff, 0xa7);
  assert.equal((xxh32(Buffer.from([0x60, 0x40])) >>> 8) & 0xff, 0x82);
});

test("streaming xxh32 equals one-shot xxh32 however the input is split", () => {
  const data = mixed(1_000_003);
  const expected = xxh32(data);
  for (const sizes of [[1], [3, 15, 16, 17], [4093], [65536, 1]]) {
    const hash = new XxHash32();
    let offset = 0;
    for (let i = 0; offset < data.length; i++) {
      const size = sizes[i % sizes.length]!;
      hash.update(data.subarray(offset, offset + size));
      offset += size;
    }
    assert.equal(hash.digest(), expected, `split ${sizes.join(",")}`);
  }
  // Short inputs take the other finishing path (fewer than 16 bytes in all).
  for (let n = 0; n < 40; n++) {
    const hash = new XxHash32();
    for (const byte of data.subarray(0, n)) hash.update(Uint8Array.of(byte));
    assert.equal(hash.digest(), xxh32(data.subarray(0, n)), `length ${n}`);
  }
});

test("xxh32 reads unaligned views", () => {
  const data = mixed(100_000);
  const shifted = Buffer.alloc(data.length + 3);
  data.copy(shifted, 3);
  assert.equal(xxh32(shifted.subarray(3)), xxh32(data));
});
