// Compatibility with the stock `lz4` tool, both ways: restores of the bash tool's `tar | lz4`
// archives, and recovery of sov's archives with `lz4 -d` alone.
import assert from "node:assert/strict";
import { test } from "node:test";
import { compress, decode, lz4Cli, mixed, MiB, runLz4, text } from "./helpers.js";

const needsCli = { skip: lz4Cli.skip };

for (const [label, size] of [
  ["0 bytes", 0],
  ["1 byte", 1],
  ["4 MiB exactly", 4 * MiB],
  ["4 MiB + 1", 4 * MiB + 1],
  ["20 MB mixed", 20_000_000],
] as const) {
  test(`lz4 -d reads the compressor's output: ${label}`, needsCli, async () => {
    const data = mixed(size);
    const decoded = runLz4(["-d", "-c"], await compress(data));
    assert.equal(decoded.length, data.length);
    assert.ok(decoded.equals(data), "lz4 -d gave different bytes");
  });
}

const big = mixed(20_000_000, 7);

/** What each option must change in the frame descriptor, so each test covers what it names. */
const FLG_CONTENT_SIZE = 0x08;
for (const [options, expectFlg, expectBd] of [
  [[], (flg: number) => (flg & 0x34) === 0x24, 0x70], // independent blocks, content checksum, 4 MiB blocks
  [["-BD"], (flg: number) => (flg & 0x20) === 0, 0x70],
  [["-BX"], (flg: number) => (flg & 0x10) !== 0, 0x70],
  [["-B4"], (flg: number) => (flg & 0x20) !== 0, 0x40],
  [["--no-frame-crc"], (flg: number) => (flg & 0x04) === 0, 0x70],
  [["--content-size"], (flg: number) => (flg & FLG_CONTENT_SIZE) !== 0, 0x70],
  [["-B4", "-BD", "-BX", "--content-size"], (flg: number) => (flg & 0x38) === 0x18, 0x40],
  [["-9", "-BD"], (flg: number) => (flg & 0x20) === 0, 0x70],
] as const) {
  test(`the decoder reads lz4 ${options.join(" ") || "(default options)"} output`, needsCli, async () => {
    const compressed = runLz4(["-c", ...options], big);
    assert.ok(expectFlg(compressed[4]!), `FLG 0x${compressed[4]!.toString(16)} lacks what ${options.join(" ")} sets`);
    assert.equal(compressed[5], expectBd, "block maximum size");
    const decoded = await decode(compressed, [65536, 1_000_003]);
    assert.equal(decoded.length, big.length);
    assert.ok(decoded.equals(big), "decoded bytes differ from what lz4 compressed");
  });
}

test("the decoder reads linked, checksummed CLI blocks fed one byte at a time", needsCli, async () => {
  const data = mixed(300_000, 3);
  const compressed = runLz4(["-c", "-B4", "-BD", "-BX", "--content-size"], data);
  assert.ok((await decode(compressed, [1])).equals(data));
});

test("the decoder reads several concatenated CLI frames, empty ones included", needsCli, async () => {
  const parts = [text(3 * MiB, 1), Buffer.alloc(0), mixed(5 * MiB, 2), text(1000, 3)];
  const stream = Buffer.concat([
    runLz4(["-c"], parts[0]!),
    runLz4(["-c"], parts[1]!),
    runLz4(["-c", "-BD", "-B5"], parts[2]!),
    runLz4(["-c", "--content-size", "--no-frame-crc"], parts[3]!),
  ]);
  assert.ok((await decode(stream)).equals(Buffer.concat(parts)));
  // And lz4 -d agrees that this is one stream.
  assert.ok(runLz4(["-d", "-c"], stream).equals(Buffer.concat(parts)));
});

test("lz4's frame for empty input decodes to nothing", needsCli, async () => {
  const frame = runLz4(["-c"], Buffer.alloc(0));
  assert.equal(frame.length, 15);
  assert.equal((await decode(frame)).length, 0);
});

test("a flipped byte in a -BX block is caught by the block checksum", needsCli, async () => {
  const compressed = Buffer.from(runLz4(["-c", "-BX"], text(MiB)));
  compressed[1000]! ^= 0x04;
  await assert.rejects(decode(compressed), /lz4 stream is corrupt: block 1 checksum mismatch \(frame 1, input byte 11\)/);
});

test("a flipped byte in CLI output fails the content checksum or the block decode", needsCli, async () => {
  const compressed = Buffer.from(runLz4(["-c"], text(MiB)));
  compressed[compressed.length >> 1]! ^= 0x01;
  await assert.rejects(decode(compressed), /lz4 stream is corrupt: (content checksum mismatch|block 1 does not decode)/);
});

test("lz4 -l (legacy format) is refused with a way out", needsCli, async () => {
  const legacy = runLz4(["-c", "-l"], text(10_000));
  await assert.rejects(decode(legacy), /lz4 legacy format \(lz4 -l\) is not supported; decode it with lz4 -d/);
});
