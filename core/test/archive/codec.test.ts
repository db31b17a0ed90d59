/**
 * The archive module's header codec: what the writer encodes, the reader decodes to the same
 * entry, for every entry type and every field that needs more than ustar; and GNU tar reads
 * the same bytes the same way (`tar -tvf`, `tar -x`).
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { lstatSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import {
  BLOCK_SIZE, byteString, decodeHeader, encodeHeader, type EntryHeader, isZeroBlock, makeEntry, paddedSize, parsePax, type TarEntry,
} from "../../src/archive/index.js";
import { needRoot, needTools } from "../../src/testing/index.js";

const base: EntryHeader = { name: "etc/hosts", type: "file", mode: 0o644, uid: 0, gid: 0, size: 0, mtime: 1_767_225_600, uname: "root", gname: "root" };
const nonUtf8 = "caf\xe9-\xff\xfe.bin"; // latin1 bytes that are not UTF-8
/** Too long for ustar's name field and with no `/` where its prefix field could split it. */
const PAX_ONLY_NAME = `d/${"x".repeat(200)}/${"y".repeat(100)}`;

/** Every entry type and every field that does not fit a plain ustar block. */
const entries: Array<{ what: string; entry: EntryHeader; data?: Buffer }> = [
  { what: "a regular file", entry: { ...base, name: "d/file", size: 5, mode: 0o640 }, data: Buffer.from("hello") },
  { what: "a directory", entry: { ...base, name: "d/", type: "directory", mode: 0o1777 } },
  { what: "a symlink", entry: { ...base, name: "d/link", type: "symlink", linkname: "../etc/target" } },
  { what: "a hard link", entry: { ...base, name: "d/hard", type: "hardlink", linkname: "d/file" } },
  { what: "a character device", entry: { ...base, name: "d/null", type: "chardev", devmajor: 1, devminor: 3 } },
  { what: "a block device", entry: { ...base, name: "d/disk", type: "blockdev", mode: 0o660, devmajor: 259, devminor: 1_048_575 } },
  { what: "a FIFO", entry: { ...base, name: "d/fifo", type: "fifo", mode: 0o600 } },
  { what: "a name split into ustar prefix and name", entry: { ...base, name: `d/${"p".repeat(140)}/${"n".repeat(99)}` } },
  { what: "a name only PAX holds", entry: { ...base, name: PAX_ONLY_NAME, size: 1 }, data: Buffer.from("x") },
  { what: "a long symlink target", entry: { ...base, name: "d/longlink", type: "symlink", linkname: "t/".repeat(150) } },
  { what: "a name that is not UTF-8", entry: { ...base, name: `d/${nonUtf8}`, size: 2 }, data: Buffer.from([0xde, 0xad]) },
  { what: "a UTF-8 name", entry: { ...base, name: `d/${byteString("äöü 日本.txt")}` } },
  { what: "big uid and gid", entry: { ...base, name: "d/big-ids", uid: 3_000_000, gid: 4_000_000_000, uname: undefined, gname: undefined } },
  { what: "a long owner name", entry: { ...base, name: "d/long-owner", uname: "u".repeat(40), gname: "g".repeat(40) } },
  { what: "an mtime before 1970", entry: { ...base, name: "d/old", mtime: -86_400 * 365 * 10 - 1 } },
  { what: "an mtime after 2242 (past 11 octal digits)", entry: { ...base, name: "d/future", mtime: 9_000_000_000 } },
  // a number holds about 16 digits: a fraction of an mtime today is exact to the microsecond at best
  { what: "a fractional mtime", entry: { ...base, name: "d/fraction", mtime: 1_767_225_600.125 } },
  { what: "a fractional mtime before 1970", entry: { ...base, name: "d/old-fraction", mtime: -1.5 } },
];

/** Decodes one entry's header blocks (a PAX header first, if any), the way the reader does. */
function decode(bytes: Buffer): TarEntry {
  let at = 0;
  let pax = new Map<string, Buffer>();
  for (;;) {
    const raw = decodeHeader(bytes.subarray(at, at + BLOCK_SIZE), at);
    at += BLOCK_SIZE;
    if (raw.typeflag !== "x") return makeEntry(raw, null, null, pax, 0);
    pax = parsePax(bytes.subarray(at, at + raw.size), at);
    at += paddedSize(raw.size);
  }
}

test("every entry the writer encodes decodes to the same entry", () => {
  for (const { what, entry } of entries) {
    const got = decode(encodeHeader(entry));
    const { type, name, mode, uid, gid, size } = entry;
    assert.deepEqual({ type: got.type, name: got.name, mode: got.mode, uid: got.uid, gid: got.gid, size: got.size }, { type, name, mode, uid, gid, size }, what);
    assert.equal(got.mtime, entry.mtime, `${what}: mtime`);
    assert.equal(got.linkname, entry.linkname ?? "", `${what}: link target`);
    assert.equal(got.uname, entry.uname ?? "", `${what}: user name`);
    assert.equal(got.gname, entry.gname ?? "", `${what}: group name`);
    if (entry.type === "chardev" || entry.type === "blockdev") {
      assert.deepEqual([got.devmajor, got.devminor], [entry.devmajor, entry.devminor], `${what}: device numbers`);
    }
  }
});

test("sizes past 8 GiB, up to the largest safe integer, survive in base-256 and PAX", () => {
  for (const size of [8 * 2 ** 30, 8 * 2 ** 30 + 1, 2 ** 40 + 511, Number.MAX_SAFE_INTEGER]) {
    const bytes = encodeHeader({ ...base, name: "sparse.img", size });
    assert.equal(decode(bytes).size, size);
    const ustar = bytes.subarray(bytes.length - BLOCK_SIZE);
    assert.equal(ustar[124], 0x80, "the ustar size field is base-256 too, for readers that skip PAX");
    assert.equal(decodeHeader(ustar, 0).size, size, "and holds the whole size by itself");
  }
});

test("a time before 1970 is base-256 in the header itself, as GNU tar writes it", () => {
  const bytes = encodeHeader({ ...base, mtime: -86_400 });
  const ustar = bytes.subarray(bytes.length - BLOCK_SIZE);
  assert.equal(ustar[136], 0xff, "negative base-256 starts 0xff");
  assert.equal(decodeHeader(ustar, 0).mtime, -86_400, "the header alone holds the time");
});

test("a header's checksum is checked over every byte, as POSIX's unsigned sum or old tars' signed one", () => {
  // high bytes in the name make the two sums differ; a header block at an odd offset of its
  // buffer, as one inside a decoded chunk can be
  const header = encodeHeader({ ...base, name: "d/xxxxxxxxxx" });
  assert.equal(header.length, BLOCK_SIZE);
  header.write(`d/${nonUtf8}`, 0, "latin1");
  const withChecksum = (sum: number) => {
    const block = Buffer.alloc(BLOCK_SIZE + 3).subarray(3);
    header.copy(block);
    block.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "latin1");
    return block;
  };
  let unsigned = 8 * 0x20;
  let signed = 8 * 0x20;
  header.forEach((b, i) => {
    if (i >= 148 && i < 156) return;
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  });
  assert.notEqual(unsigned, signed);
  assert.equal(decodeHeader(withChecksum(unsigned), 0).name, `d/${nonUtf8}`);
  assert.equal(decodeHeader(withChecksum(signed), 0).name, `d/${nonUtf8}`);
  for (const wrong of [unsigned + 1, unsigned - 1, signed + 256, 0]) {
    assert.throws(() => decodeHeader(withChecksum(wrong), 512), /checksum mismatch at byte 512/);
  }
  // one flipped bit anywhere outside the checksum field is caught
  for (const at of [0, 99, 147, 156, 257, 345, 500, 511]) {
    const block = withChecksum(unsigned);
    block[at]! ^= 0x10;
    assert.throws(() => decodeHeader(block, 0), /checksum mismatch/, `a flipped bit at byte ${at}`);
  }
});

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), "sov-archive-codec-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A whole archive of `list`, end-of-archive blocks included. */
function archiveOf(list: typeof entries): Buffer {
  const parts: Buffer[] = [];
  for (const { entry, data } of list) {
    parts.push(encodeHeader(entry));
    if (data) parts.push(data, Buffer.alloc(paddedSize(data.length) - data.length));
  }
  parts.push(Buffer.alloc(2 * BLOCK_SIZE));
  const tar = Buffer.concat(parts);
  assert.ok(isZeroBlock(tar.subarray(-BLOCK_SIZE)));
  return tar;
}

function gnuTar(args: string[], cwd?: string): string {
  const res = spawnSync("tar", args, { cwd, encoding: "latin1", env: { ...process.env, LC_ALL: "C", TZ: "UTC" } });
  assert.equal(res.status, 0, `tar ${args.join(" ")}: ${res.stderr}`);
  assert.equal(res.stderr, "", "GNU tar warns about nothing");
  return res.stdout;
}

test("GNU tar lists what the writer encoded: types, modes, owners, sizes, times, devices, names", (t) => {
  if (!needTools(t, "tar")) return;
  const file = join(tempDir(t), "all.tar");
  writeFileSync(file, archiveOf(entries));
  const lines = gnuTar(["-tvf", file, "--numeric-owner", "--full-time"]).trimEnd().split("\n");
  assert.equal(lines.length, entries.length, "one line per entry");
  const line = (name: string) => lines.find((l) => l.includes(` ${name}`)) ?? assert.fail(`no listing line for ${name}`);
  assert.match(line("d/file"), /^-rw-r----- 0\/0 +5 2026-01-01 00:00:00 d\/file$/);
  assert.match(lines.find((l) => l.endsWith(" d/"))!, /^drwxrwxrwt /);
  assert.match(line("d/link"), /^lrw-r--r-- .* d\/link -> \.\.\/etc\/target$/);
  assert.match(line("d/hard"), /^hrw-r--r-- .* d\/hard link to d\/file$/);
  assert.match(line("d/null"), /^crw-r--r-- 0\/0 +1,3 /);
  assert.match(line("d/disk"), /^brw-rw---- 0\/0 +259,1048575 /);
  assert.match(line("d/fifo"), /^prw------- /);
  assert.match(line(PAX_ONLY_NAME), / 1 2026-01-01 /);
  assert.match(line(`d/${nonUtf8}`.replace(/[\x80-\xff]/g, (c) => `\\${c.charCodeAt(0).toString(8)}`)), / 2 2026-01-01 /);
  assert.match(line("d/big-ids"), / 3000000\/4000000000 /);
  assert.match(line("d/old"), / 1960-01-03 23:59:59 d\/old$/);
  assert.match(line("d/future"), / 2255-03-14 16:00:00 d\/future$/);
  assert.match(line("d/fraction"), / 2026-01-01 00:00:00\.125 d\/fraction$/);
});

test("GNU tar extracts the same names, modes, link targets and times", (t) => {
  if (!needTools(t, "tar") || !needRoot(t)) return;
  const dir = tempDir(t);
  const file = join(dir, "all.tar");
  writeFileSync(file, archiveOf(entries));
  const out = join(dir, "out");
  spawnSync("mkdir", [out]);
  gnuTar(["-xf", file, "--numeric-owner", "--warning=no-timestamp"], out);
  const at = (name: string) => Buffer.from(join(out, name), "latin1");
  assert.equal(readFileSync(at("d/file"), "utf8"), "hello");
  assert.equal(readFileSync(at(PAX_ONLY_NAME), "utf8"), "x");
  assert.deepEqual([...readFileSync(at(`d/${nonUtf8}`))], [0xde, 0xad], "a name that is not UTF-8 is extracted byte for byte");
  assert.equal(readlinkSync(at("d/link"), "utf8"), "../etc/target");
  assert.equal(lstatSync(at("d/hard")).ino, lstatSync(at("d/file")).ino);
  assert.ok(lstatSync(at("d/null")).isCharacterDevice());
  assert.ok(lstatSync(at("d/fifo")).isFIFO());
  assert.equal(lstatSync(at("d/big-ids")).uid, 3_000_000);
  assert.equal(lstatSync(at("d/old")).mtimeMs, (-86_400 * 365 * 10 - 1) * 1000);
  assert.equal(lstatSync(at("d/old-fraction")).mtimeMs, -1500);
  assert.equal(lstatSync(at("d/fraction"), { bigint: true }).mtimeNs, 1_767_225_600_125_000_000n);
});

test("owner names that follow one another each decode as written, whatever the previous header held", () => {
  // decodeHeader reuses the string of the previous owner name when the bytes match: every
  // neighbour here differs from the last by a byte, a length, or its absence
  const owners = ["root", "root", "roo", "rooT", "root", "", "root", "rootx", "r", "u".repeat(31), "u".repeat(30), "wheel", "root"];
  for (const [i, uname] of owners.entries()) {
    const gname = owners[owners.length - 1 - i]!;
    const raw = decodeHeader(encodeHeader({ ...base, name: `d/${i}`, uname, gname }).subarray(0, BLOCK_SIZE), 0);
    assert.deepEqual([raw.uname, raw.gname], [uname, gname], `entry ${i}`);
  }
  const block = encodeHeader({ ...base, uname: "alice", gname: "staff" }).subarray(0, BLOCK_SIZE);
  assert.deepEqual([decodeHeader(block, 0, "no-owners").uname, decodeHeader(block, 0, "no-owners").gname], ["", ""], "a verify reads no owners");
  assert.equal(decodeHeader(block, 0).uname, "alice", "and restore still does, right after");
});
