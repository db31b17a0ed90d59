import assert from "node:assert/strict";
import { appendFileSync, mkdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { ChunkWriter, type TarSink, writeTar } from "../src/walker.js";
import { requireGnuTar, tar, tempDir } from "./helpers.js";

/** Runs the walker on this thread, collecting the archive; `chunkSize` small puts entries across chunk boundaries. */
function archiveSync(root: string, sources: string[], hooks: Partial<TarSink> = {}, chunkSize = 1 << 20) {
  const chunks: Buffer[] = [];
  const warnings: string[] = [];
  const progress = writeTar({ root, sources, exclude: [] }, {
    allocate: () => new Uint8Array(chunkSize).fill(0xaa), // never zero: padding must be written, not assumed
    chunk: (data) => void chunks.push(Buffer.from(data)),
    warn: (message) => void warnings.push(message),
    debug: () => {},
    ...hooks,
  });
  return { archive: Buffer.concat(chunks), chunks, warnings, progress };
}

test("files that shrink, grow or vanish while read leave a well-formed archive and a warning", async (t) => {
  if (!requireGnuTar(t)) return;
  const root = tempDir(t);
  mkdirSync(join(root, "d"));
  const original = Buffer.alloc(5000, "x");
  writeFileSync(join(root, "d/a-shrinks"), original);
  writeFileSync(join(root, "d/b-grows"), original);
  writeFileSync(join(root, "d/c-vanishes"), original);
  writeFileSync(join(root, "d/d-steady"), "steady\n");

  const { archive, warnings } = archiveSync(root, ["d"], {
    beforeContent(path) {
      // between the header (size 5000, from fstat) and the read
      if (path.endsWith("a-shrinks")) {
        truncateSync(path, 100);
        rmSync(join(root, "d/c-vanishes")); // gone before it is opened
      }
      if (path.endsWith("b-grows")) appendFileSync(path, Buffer.alloc(10_000, "y"));
    },
  });

  const file = join(root, "out.tar");
  writeFileSync(file, archive);
  assert.equal(tar(["-tf", file]).stdout, "d/\nd/a-shrinks\nd/b-grows\nd/d-steady\n", "GNU tar reads the whole archive");
  const out = join(root, "x");
  mkdirSync(out);
  tar(["-xf", file, "-C", out]);
  assert.deepEqual(readFileSync(join(out, "d/a-shrinks")), Buffer.concat([original.subarray(0, 100), Buffer.alloc(4900)]), "shrunk: the declared size, zero-filled");
  assert.deepEqual(readFileSync(join(out, "d/b-grows")), original, "grown: the declared size, no more");
  assert.equal(readFileSync(join(out, "d/d-steady"), "utf8"), "steady\n", "the entry after them is intact");

  assert.equal(warnings.length, 3, warnings.join("\n"));
  assert.match(warnings[0]!, /d\/a-shrinks: changed while read \(shrank to 100 of 5000 bytes\)/);
  assert.match(warnings[1]!, /d\/b-grows: changed while read \(grew past 5000 bytes\)/);
  assert.match(warnings[2]!, /d\/c-vanishes: vanished before it was read; skipped/);
});

test("chunk boundaries anywhere give the same archive", (t) => {
  const root = tempDir(t);
  mkdirSync(join(root, "d"));
  for (const [name, size] of [["empty", 0], ["one", 1], ["block", 512], ["odd", 1537], ["big", 70_000]] as const) {
    writeFileSync(join(root, "d", name), Buffer.alloc(size, name));
  }
  writeFileSync(join(root, "d", `${"long".repeat(40)}`), "a PAX header spans chunks");
  const reference = archiveSync(root, ["d"]).archive;
  assert.equal(reference.length % 512, 0);
  for (const chunkSize of [512, 1024, 4096, 65_536]) {
    const { archive, chunks } = archiveSync(root, ["d"], {}, chunkSize);
    assert.ok(archive.equals(reference), `chunk size ${chunkSize}`);
    assert.ok(chunks.slice(0, -1).every((c) => c.length === chunkSize), "every chunk but the last is full");
  }
});

test("copyFile pads a short read with zeros and cuts a long one at the declared size", () => {
  const collected: Buffer[] = [];
  const writer = new ChunkWriter(() => new Uint8Array(1024).fill(0xaa), (c) => void collected.push(Buffer.from(c)));
  const reads = (...sizes: number[]) => (_fd: number, buf: NodeJS.ArrayBufferView, offset: number, length: number) => {
    const n = Math.min(sizes.shift() ?? 0, length);
    (buf as Uint8Array).fill(0x31, offset, offset + n);
    return n;
  };
  assert.deepEqual(writer.copyFile(0, 700, reads(300, 0) as never), { copied: 300, grew: false });
  assert.deepEqual(writer.copyFile(0, 600, reads(601) as never), { copied: 600, grew: true });
  assert.deepEqual(writer.copyFile(0, 100, reads(100, 0) as never), { copied: 100, grew: false });
  writer.end();
  const out = Buffer.concat(collected);
  assert.equal(out.length, 1024 + 1024 + 512 + 1024);
  assert.ok(out.subarray(0, 300).every((b) => b === 0x31) && out.subarray(300, 1024).every((b) => b === 0), "shrunk file: data then zeros");
  assert.ok(out.subarray(1024, 1624).every((b) => b === 0x31) && out.subarray(1624, 2048).every((b) => b === 0), "grown file: declared size, then padding");
  assert.ok(out.subarray(2560).every((b) => b === 0), "end of archive: two zero blocks");
});
