import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { BLOCK_SIZE, encodeHeader, type EntryHeader as TarEntry, paxRecord } from "@sov/core/archive";
import { requireGnuTar, tar, tempDir } from "./helpers.js";

const base: TarEntry = { name: "etc/hosts", type: "file", mode: 0o644, uid: 0, gid: 0, size: 12, mtime: 1_767_225_600, uname: "root", gname: "root" };

const field = (block: Buffer, offset: number, width: number) => block.subarray(offset, offset + width).toString("latin1").replace(/\0.*$/s, "");

/** The PAX records of a header that has them, as key → value. */
function paxOf(header: Buffer): Map<string, string> {
  assert.equal(String.fromCharCode(header[156]!), "x", "a PAX header comes first");
  const size = parseInt(field(header, 124, 12), 8);
  const records = new Map<string, string>();
  let text = header.subarray(BLOCK_SIZE, BLOCK_SIZE + size).toString("latin1");
  while (text) {
    const length = parseInt(text, 10);
    const record = text.slice(0, length);
    assert.ok(record.endsWith("\n"), `record ${JSON.stringify(record)} is exactly as long as it says`);
    const [key, ...value] = record.slice(record.indexOf(" ") + 1, -1).split("=");
    records.set(key!, value.join("="));
    text = text.slice(length);
  }
  return records;
}

test("a PAX record's length counts its own digits", () => {
  assert.equal(paxRecord("path", "foo"), "12 path=foo\n");
  for (let n = 0; n < 2000; n += 7) {
    const record = paxRecord("path", "x".repeat(n));
    assert.equal(record.length, parseInt(record, 10), `value of ${n} bytes`);
  }
});

test("a plain entry is one ustar block with a valid checksum", () => {
  const header = encodeHeader(base);
  assert.equal(header.length, BLOCK_SIZE);
  assert.equal(field(header, 0, 100), "etc/hosts");
  assert.equal(field(header, 100, 8), "0000644");
  assert.equal(field(header, 124, 12), "00000000014");
  assert.equal(field(header, 257, 6), "ustar");
  assert.equal(field(header, 263, 2), "00");
  assert.equal(field(header, 265, 32), "root");
  let sum = 0;
  for (let i = 0; i < BLOCK_SIZE; i++) sum += i >= 148 && i < 156 ? 0x20 : header[i]!;
  assert.equal(parseInt(field(header, 148, 8), 8), sum);
});

test("a long name is split into prefix and name when it can be, else it goes in a PAX record", () => {
  const exact = encodeHeader({ ...base, name: "n".repeat(100) });
  assert.equal(exact.length, BLOCK_SIZE, "100 bytes fill the name field");
  const splittable = `${"p".repeat(150)}/${"n".repeat(99)}`;
  const split = encodeHeader({ ...base, name: splittable });
  assert.equal(split.length, BLOCK_SIZE);
  assert.equal(field(split, 345, 155), "p".repeat(150));
  assert.equal(field(split, 0, 100), "n".repeat(99));
  const unsplittable = `dir/${"n".repeat(120)}`;
  assert.equal(paxOf(encodeHeader({ ...base, name: unsplittable })).get("path"), unsplittable);
});

test("non-ASCII names, long link targets, huge sizes and ids, and old times get PAX records", () => {
  const utf8 = Buffer.from("äöü-日本.txt").toString("latin1");
  assert.equal(paxOf(encodeHeader({ ...base, name: utf8 })).get("path"), utf8);
  const target = "t".repeat(150);
  assert.equal(paxOf(encodeHeader({ ...base, type: "symlink", size: 0, linkname: target })).get("linkpath"), target);

  const big = encodeHeader({ ...base, size: 8 * 2 ** 30, uid: 3_000_000 });
  const records = paxOf(big);
  assert.equal(records.get("size"), String(8 * 2 ** 30));
  assert.equal(records.get("uid"), "3000000");
  const ustar = big.subarray(big.length - BLOCK_SIZE);
  assert.equal(ustar[124], 0x80, "size in GNU base-256 too, for readers that skip PAX");
  assert.equal(ustar.readUIntBE(130, 6), 8 * 2 ** 30);

  assert.equal(paxOf(encodeHeader({ ...base, mtime: -86_400 })).get("mtime"), "-86400");
});

test("GNU tar reads hand-built headers as intended", (t) => {
  if (!requireGnuTar(t)) return;
  const entries: Array<[TarEntry, Buffer]> = [
    [{ ...base, name: "d/", type: "directory", size: 0, mode: 0o1777 }, Buffer.alloc(0)],
    [{ ...base, name: `d/${"x".repeat(300)}`, size: 3, mode: 0o4755 }, Buffer.from("abc")],
    [{ ...base, name: "d/link", type: "symlink", size: 0, linkname: "l".repeat(200) }, Buffer.alloc(0)],
    [{ ...base, name: "d/old", size: 0, mtime: -86_400, uid: 3_000_000, gid: 42, uname: undefined, gname: undefined }, Buffer.alloc(0)],
  ];
  const parts: Buffer[] = [];
  for (const [entry, data] of entries) {
    parts.push(encodeHeader(entry), data, Buffer.alloc(-data.length & 511));
  }
  parts.push(Buffer.alloc(1024));
  const file = join(tempDir(t), "hand.tar");
  writeFileSync(file, Buffer.concat(parts));
  const listing = tar(["-tvf", file, "--numeric-owner", "--utc"]).stdout.split("\n");
  assert.match(listing[0]!, /^drwxrwxrwt 0\/0 +0 2026-01-01 00:00 d\/$/);
  assert.match(listing[1]!, new RegExp(`^-rwsr-xr-x 0/0 +3 2026-01-01 00:00 d/${"x".repeat(300)}$`));
  assert.match(listing[2]!, new RegExp(`^lrw-r--r-- 0/0 +0 2026-01-01 00:00 d/link -> ${"l".repeat(200)}$`));
  assert.match(listing[3]!, /^-rw-r--r-- 3000000\/42 +0 1969-12-31 00:00 d\/old$/);
});
