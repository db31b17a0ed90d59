// The seekable archive's index format and the tar scanner that builds it: what the writer puts
// in comes back out, anything inconsistent is refused, and the scanner finds every entry where
// GNU tar does, so a slice [offset, next offset) of a tar is exactly one entry.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { brotliCompressSync, constants as zlibConstants } from "node:zlib";
import {
  BLOCK_SIZE, decodeHeader, decodeSeekIndex, encodeHeader, encodeSeekIndex, framesCovering, seekFrameLength, SeekIndexError, SEEK_FOOTER_SIZE,
  SKIPPABLE_MAGIC, TarScanner, type IndexedEntry, type SeekIndex,
} from "../../src/archive/index.js";
import { needTools } from "../../src/testing/index.js";

const INDEX: SeekIndex = {
  frames: [
    { tarStart: 0, tarLength: 8 * 1024 * 1024, compStart: 0, compLength: 4000 },
    { tarStart: 8 * 1024 * 1024, tarLength: 6 * 2 ** 32, compStart: 4000, compLength: 2 ** 33 },
  ],
  entries: [
    { offset: 0, name: "etc/", type: "directory", mode: 0o755, size: 0, mtime: 1_700_000_000 },
    { offset: 512, name: "etc/hosts", type: "file", mode: 0o644, size: 21, mtime: -86_400 },
    { offset: 1536, name: "etc/h\xe9llo \xff", type: "file", mode: 0o600, size: 5 * 2 ** 32, mtime: 0 },
    { offset: 1536 + 512 + 5 * 2 ** 32, name: "etc/link", type: "symlink", mode: 0o777, size: 0, mtime: 1 },
  ],
  endOfEntries: 1536 + 1024 + 5 * 2 ** 32,
};
const INDEX_START = 4000 + 2 ** 33;

test("an index comes back as it was written: large sizes, negative times, names that are not UTF-8", () => {
  const frame = encodeSeekIndex(INDEX);
  assert.equal(seekFrameLength(frame.subarray(frame.length - SEEK_FOOTER_SIZE)), frame.length);
  const decoded = decodeSeekIndex(frame, INDEX_START);
  assert.deepEqual({ frames: decoded.frames, entries: decoded.entries, endOfEntries: decoded.endOfEntries }, INDEX);
  assert.equal(decoded.count, INDEX.entries.length);
  assert.equal(decoded.name(2), "etc/h\xe9llo \xff");
  assert.equal(decoded.end(1), 1536);
  assert.equal(decoded.end(3), INDEX.endOfEntries);
  assert.deepEqual(framesCovering(INDEX.frames, 512, 1024), [0, 0]);
  assert.deepEqual(framesCovering(INDEX.frames, 8 * 1024 * 1024 - 512, 8 * 1024 * 1024 + 1), [0, 1]);
});

test("entries after extended headers keep their offsets: the gaps between entries come back", () => {
  // a PAX header (two blocks) before the second entry, and a GNU long name (three) before the third
  const entries: IndexedEntry[] = [
    { offset: 0, name: "a", type: "file", mode: 0o644, size: 700, mtime: 5 },
    { offset: 1536 + 1024, name: "a/\xe9", type: "file", mode: 0o644, size: 0, mtime: 5 },
    { offset: 1536 + 1024 + 512 + 1536, name: `d/${"n".repeat(200)}`, type: "directory", mode: 0o755, size: 0, mtime: 4 },
  ];
  const index: SeekIndex = { frames: [{ tarStart: 0, tarLength: 10240, compStart: 0, compLength: 99 }], entries, endOfEntries: 1536 + 1024 + 512 + 1536 + 512 };
  const decoded = decodeSeekIndex(encodeSeekIndex(index), 99);
  assert.deepEqual({ frames: decoded.frames, entries: decoded.entries, endOfEntries: decoded.endOfEntries }, index);
});

test("an index of version 1 (deflated rows, what sov wrote before version 2) still reads", () => {
  // encodeSeekIndex(INDEX) as sov wrote it before the columns (commit 89ab285)
  const v1 = Buffer.from(
    "XipNGGkAAABjZXjLzNBwZP5VHgaW1JJkfYYGliXMov+PcrGwZuQXlxQzNHA0MDc0NDQEMLCyvczJyVf4z9TQ0tAQ8J+ZgYmFJSczL/t/w5SGhgCmhoYGlgXyIKUJIEIBAFkAAAABAAAAc292LXNlZWs=",
    "base64",
  );
  assert.equal(v1.readUInt32LE(v1.length - SEEK_FOOTER_SIZE + 4), 1);
  assert.equal(seekFrameLength(v1.subarray(v1.length - SEEK_FOOTER_SIZE)), v1.length);
  const decoded = decodeSeekIndex(v1, INDEX_START);
  assert.deepEqual({ frames: decoded.frames, entries: decoded.entries, endOfEntries: decoded.endOfEntries }, INDEX);
  assert.throws(() => decodeSeekIndex(v1, INDEX_START + 1), SeekIndexError, "and is checked as version 2 is");
  const v2 = encodeSeekIndex(INDEX);
  assert.equal(v2.readUInt32LE(v2.length - SEEK_FOOTER_SIZE + 4), 2, "what sov writes now is version 2");
  const v3 = Buffer.from(v2);
  v3.writeUInt32LE(3, v3.length - SEEK_FOOTER_SIZE + 4);
  assert.equal(seekFrameLength(v3.subarray(v3.length - SEEK_FOOTER_SIZE)), null, "a later version is no index to this sov");
  assert.throws(() => decodeSeekIndex(v3, INDEX_START), /version 3, which this sov does not read/);
});

test("a stream without the footer has no index; a damaged or inconsistent one is refused", () => {
  assert.equal(seekFrameLength(Buffer.alloc(SEEK_FOOTER_SIZE)), null);
  const frame = encodeSeekIndex(INDEX);
  const refused = (what: string, bytes: Buffer, start = INDEX_START) => assert.throws(() => decodeSeekIndex(bytes, start), SeekIndexError, what);
  refused("frames that do not end where the index starts", frame, INDEX_START + 1);
  const flipped = Buffer.from(frame);
  flipped[20] = flipped[20]! ^ 0xff;
  refused("a flipped byte in the compressed body", flipped);
  const withEntries = (entries: IndexedEntry[], endOfEntries = INDEX.endOfEntries) => encodeSeekIndex({ ...INDEX, entries, endOfEntries });
  refused("an offset inside a block", withEntries([INDEX.entries[0]!, { ...INDEX.entries[1]!, offset: 612 }]));
  // entries never overlap in what sov writes (each starts where the previous one's data ends, or
  // later), so the last entry is the one that can claim more than its place
  refused("an entry too large for its place", withEntries([INDEX.entries[0]!, { ...INDEX.entries[1]!, size: 2048 }], 1536));
  refused("the end of entries past the tar", withEntries(INDEX.entries.slice(0, 2), 6 * 2 ** 32 + 16 * 1024 * 1024));
  refused("an empty name", withEntries([{ ...INDEX.entries[0]!, name: "" }]));
  const header = Buffer.from(frame);
  header.writeUInt32LE(7, 4);
  refused("a frame header that disagrees with the footer", header);
});

test("any one byte changed in an index is either read or refused with SeekIndexError, never another error", () => {
  const entries: IndexedEntry[] = [];
  let offset = 0;
  for (let i = 0; i < 300; i++) {
    const size = (i * 7919) % 5000;
    entries.push({ offset, name: `dir${i % 7}/file-${i}`, type: i % 10 === 0 ? "directory" : "file", mode: 0o644, size, mtime: 1_700_000_000 + (i % 13) });
    offset += BLOCK_SIZE + Math.ceil(size / BLOCK_SIZE) * BLOCK_SIZE + (i % 50 === 0 ? 1024 : 0);
  }
  const frame = encodeSeekIndex({ frames: [{ tarStart: 0, tarLength: offset + 1024, compStart: 0, compLength: 5000 }], entries, endOfEntries: offset });
  let refusals = 0;
  for (let at = 8; at < frame.length - SEEK_FOOTER_SIZE; at++) {
    for (const flip of [0x01, 0x80, 0xff]) {
      const bad = Buffer.from(frame);
      bad[at] = bad[at]! ^ flip;
      try {
        decodeSeekIndex(bad, 5000);
      } catch (err) {
        assert.ok(err instanceof SeekIndexError, `byte ${at} ^ ${flip}: ${String(err)}`);
        refusals++;
      }
    }
  }
  assert.ok(refusals > (frame.length - 24) * 2, `most changes are caught (${refusals} refusals)`);
});

test("the scan refuses every header restore's reader refuses, though it keeps fewer fields", () => {
  const header = { name: "d/f", type: "file", mode: 0o644, uid: 0, gid: 0, size: 0, mtime: 1_700_000_000, uname: "root", gname: "root" } as const;
  for (const [field, at] of [["uid", 108], ["gid", 116], ["devmajor", 329], ["devminor", 337]] as const) {
    const tar = Buffer.concat([encodeHeader(header), encodeHeader({ ...header, name: "d/g" }), Buffer.alloc(2 * BLOCK_SIZE)]);
    tar.write("zz", at, "latin1");
    tar.write("        ", 148, "latin1");
    let sum = 0;
    for (let i = 0; i < BLOCK_SIZE; i++) sum += tar[i]!;
    tar.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "latin1");
    assert.throws(() => decodeHeader(tar.subarray(0, BLOCK_SIZE), 0), new RegExp(`invalid ${field}`), "restore's reader refuses it");
    const found: string[] = [];
    const result = new TarScanner((e) => found.push(e.name)).push(tar);
    assert.deepEqual(result, { state: "unindexable", reason: `invalid ${field} in the tar header at byte 0` }, `a bad ${field}: no index`);
    assert.deepEqual(found, []);
  }
});

test("an index claiming more entries than its tar could hold is refused before its columns are made", () => {
  // version 2 body: 10,000,000 entries, the end of entries at byte 0, one frame; then zeros
  const body = Buffer.alloc(70_000_064);
  body.set([0x80, 0xad, 0xe2, 0x04, 0, 1, 1, 77]);
  const payload = brotliCompressSync(body, { params: { [zlibConstants.BROTLI_PARAM_QUALITY]: 1 } });
  const footer = Buffer.alloc(SEEK_FOOTER_SIZE);
  footer.writeUInt32LE(payload.length, 0);
  footer.writeUInt32LE(2, 4);
  footer.write("sov-seek", 8, "latin1");
  const head = Buffer.alloc(8);
  head.writeUInt32LE(SKIPPABLE_MAGIC, 0);
  head.writeUInt32LE(payload.length + SEEK_FOOTER_SIZE, 4);
  assert.throws(() => decodeSeekIndex(Buffer.concat([head, payload, footer]), 77), { name: "SeekIndexError", message: "the index claims 10000000 entries before byte 0" });
});

function tmp(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), "sov-scan-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

for (const format of ["gnu", "pax"] as const) {
  test(`the scanner finds every entry of a GNU tar (${format} format, long names and links), and each slice is that entry alone`, (t) => {
    if (!needTools(t, "tar")) return;
    const dir = tmp(t);
    const long = "d".repeat(120);
    mkdirSync(join(dir, "a", long), { recursive: true });
    writeFileSync(join(dir, "a", "f"), "x".repeat(1000));
    writeFileSync(join(dir, "a", long, `${"n".repeat(110)}.txt`), "y\n");
    execFileSync("ln", ["-s", `${long}/target-${"t".repeat(120)}`, join(dir, "a", "link")]);
    const tarFile = join(dir, "t.tar");
    execFileSync("tar", [`--format=${format}`, "-cf", tarFile, "-C", dir, "a"]);
    const tar = readFileSync(tarFile);
    const found: Array<{ name: string; offset: number }> = [];
    const scanner = new TarScanner((e) => found.push({ name: e.name, offset: e.offset }));
    // pushed in odd-sized pieces: headers and long names straddle the chunks
    for (let at = 0; at < tar.length; at += 333) scanner.push(tar.subarray(at, at + 333));
    const result = scanner.result;
    assert.equal(result.state, "end");
    const names = execFileSync("tar", ["-tf", tarFile, "--quoting-style=literal"], { encoding: "utf8" }).trim().split("\n");
    assert.deepEqual(found.map((e) => e.name), names);
    const end = result.state === "end" ? result.offset : -1;
    found.forEach((e, i) => {
      const slice = Buffer.concat([tar.subarray(e.offset, found[i + 1]?.offset ?? end), Buffer.alloc(2 * BLOCK_SIZE)]);
      const one = join(dir, `slice-${i}.tar`);
      writeFileSync(one, slice);
      assert.deepEqual(execFileSync("tar", ["-tf", one, "--quoting-style=literal"], { encoding: "utf8" }).trim().split("\n"), [e.name]);
    });
  });
}

test("the scanner gives up on what an index cannot describe entry by entry, and on damage", () => {
  const block = Buffer.alloc(BLOCK_SIZE);
  const scanner = new TarScanner(() => assert.fail("no entry"));
  block.fill(0x41, 0, 10);
  assert.equal(scanner.push(block).state, "unindexable");
});
