// Issue 15: seekable archives. sov's zstd and lz4 archives carry an index (a skippable frame
// inside the age encryption) that the stock tools skip; `sov restore --files` lists from it and
// `--path` fetches only the frames that hold what was asked for. An index that is damaged or
// lies is caught and the archive is read whole, never extracting the wrong bytes.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { decodeSeekIndex, encodeSeekIndex, seekFrameLength, SEEK_FOOTER_SIZE, type SeekIndex } from "@sov/core/archive";
import { makeFixture, type Fixture } from "../run/fixture.js";
import { needTools, scratch, sh, sov } from "../helpers.js";

const SMALL = "deep/after/the/bulk/small.conf";
const SMALL_CONTENT = "the one file a 3 a.m. restore wants\n";

/** The fixture's tree plus 40 MiB of incompressible files before SMALL, so frames matter. */
function bulkyFixture(t: TestContext, compressor: "zstd" | "lz4"): Fixture {
  const fx = makeFixture(t, `seek-${compressor}`);
  mkdirSync(join(fx.data, "bulk"), { recursive: true });
  for (let i = 0; i < 5; i++) writeFileSync(join(fx.data, "bulk", `blob${i}.bin`), randomBytes(8 * 1024 * 1024));
  mkdirSync(join(fx.data, "deep/after/the/bulk"), { recursive: true });
  writeFileSync(join(fx.data, SMALL), SMALL_CONTENT);
  fx.writeConfig({ compressor });
  const res = fx.run(["run"]);
  assert.equal(res.code, 0, res.stderr);
  return fx;
}

const member = (fx: Fixture, rel: string) => `${fx.data.slice(1)}/${rel}`;
const archivePath = (fx: Fixture) => join(fx.backups, fx.archives()[0]!);

function decompress(compressor: "zstd" | "lz4"): string {
  return compressor === "zstd" ? "zstd -d -q" : "lz4 -d -q";
}

for (const compressor of ["zstd", "lz4"] as const) {
  test(`${compressor}: the archive ends with an index the stock tools skip; --files lists what tar -t lists`, (t) => {
    if (!needTools(t, "age", compressor, "tar")) return;
    const fx = bulkyFixture(t, compressor);
    const file = archivePath(fx);
    const plain = execFileSync("age", ["-d", "-i", fx.identity, file], { maxBuffer: 1 << 30 });
    const tail = plain.subarray(plain.length - SEEK_FOOTER_SIZE);
    assert.equal(tail.subarray(8).toString("latin1"), "sov-seek", "the compressed stream ends with the index footer");
    const frameLength = seekFrameLength(tail)!;
    const index = decodeSeekIndex(plain.subarray(plain.length - frameLength), plain.length - frameLength);
    assert.ok(index.frames.length >= 4, `40 MiB of tar is cut into several frames (got ${index.frames.length})`);

    const tarNames = sh(`age -d -i ${fx.identity} ${file} | ${decompress(compressor)} | tar -t --quoting-style=literal`).trim().split("\n");
    const listed = sov(["restore", "--files", file, "--identity", fx.identity], fx.env);
    assert.equal(listed.code, 0, listed.stderr);
    assert.doesNotMatch(listed.stderr, /no index/);
    const names = listed.stdout.trim().split("\n").map((line) => line.split(/\s+/).slice(4).join(" "));
    assert.deepEqual(names.map((n) => n.replace(/\/$/, "")), tarNames.map((n) => n.replace(/\/$/, "")));
    const small = listed.stdout.split("\n").find((l) => l.endsWith(SMALL))!;
    assert.match(small, new RegExp(`^-rw-r--r-- +${SMALL_CONTENT.length} `));

    // the stock pipeline restores the tree as before
    const out = join(fx.dir, "stock");
    mkdirSync(out);
    sh(`age -d -i ${fx.identity} ${file} | ${decompress(compressor)} | tar -x -C ${out}`);
    assert.equal(readFileSync(join(out, member(fx, SMALL)), "utf8"), SMALL_CONTENT);
    assert.deepEqual(readFileSync(join(out, member(fx, "bulk/blob3.bin"))), readFileSync(join(fx.data, "bulk/blob3.bin")));
  });

  test(`${compressor}: --path reads only the frames that hold the entry, and restores it exactly`, (t) => {
    if (!needTools(t, "age", compressor)) return;
    const fx = bulkyFixture(t, compressor);
    const file = archivePath(fx);
    const target = join(fx.dir, "restored");
    const res = sov(["restore", file, target, "--path", member(fx, SMALL), "--identity", fx.identity], fx.env);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /the archive's index holds 1 of its \d+ entries/);
    const read = Number(/read .* \((\d+) bytes\) of the/.exec(res.stdout)?.[1]);
    const size = readFileSync(file).length;
    assert.ok(size > 40 * 1024 * 1024 && read < 1024 * 1024, `read ${read} bytes of a ${size}-byte archive`);
    assert.equal(readFileSync(join(target, member(fx, SMALL)), "utf8"), SMALL_CONTENT);
    assert.deepEqual(filesUnder(target), [member(fx, SMALL)], "nothing else was written");

    // a directory, with a wildcard: the same entries as a full restore would give
    const dirTarget = join(fx.dir, "restored-dir");
    const dir = sov(["restore", file, dirTarget, "--path", `${fx.data.slice(1)}/et*`, "--identity", fx.identity], fx.env);
    assert.equal(dir.code, 0, dir.stderr);
    assert.match(dir.stdout, /the archive's index holds/);
    assert.deepEqual(filesUnder(dirTarget), [member(fx, "etc/app.conf"), member(fx, "etc/app.conf.hardlink"), member(fx, "etc/secret.key")]);
    assert.equal(readFileSync(join(dirTarget, member(fx, "etc/secret.key")), "utf8"), "k3y\n");

    // most of the archive: read whole, one stream, rather than frame by frame
    const bulkTarget = join(fx.dir, "restored-bulk");
    const bulk = sov(["restore", file, bulkTarget, "--path", member(fx, "bulk"), "--identity", fx.identity], fx.env);
    assert.equal(bulk.code, 0, bulk.stderr);
    assert.match(bulk.stdout, /the paths asked for are most of the archive \(6 of its \d+ entries\): reading it whole/);
    assert.deepEqual(readFileSync(join(bulkTarget, member(fx, "bulk/blob4.bin"))), readFileSync(join(fx.data, "bulk/blob4.bin")));
  });
}

/** Regular files and symlinks under `dir`, relative, sorted. */
function filesUnder(dir: string): string[] {
  return (readdirSync(dir, { recursive: true, withFileTypes: true }) as import("node:fs").Dirent[])
    .filter((d) => !d.isDirectory())
    .map((d) => join(d.parentPath ?? (d as unknown as { path: string }).path, d.name).slice(dir.length + 1))
    .sort();
}

/**
 * The fixture's archive with its index replaced: `edit` gets the decoded index and returns the
 * bytes of the frame to put at the end instead. Re-encrypted with the real age CLI to the same
 * recipient, so only the index differs and it is authentic: what someone holding the public key
 * could write.
 */
function withIndex(fx: Fixture, edit: (index: SeekIndex) => Buffer): string {
  const plain = execFileSync("age", ["-d", "-i", fx.identity, archivePath(fx)], { maxBuffer: 1 << 30 });
  const length = seekFrameLength(plain.subarray(plain.length - SEEK_FOOTER_SIZE))!;
  const start = plain.length - length;
  const frame = edit(decodeSeekIndex(plain.subarray(start), start));
  const forged = join(fx.dir, "forged", "sovereign-backup-testhost-20261202-030000.tar.zst.age");
  mkdirSync(join(fx.dir, "forged"), { recursive: true });
  execFileSync("age", ["-r", fx.recipient, "-o", forged], { input: Buffer.concat([plain.subarray(0, start), frame]) });
  return forged;
}

const LIES: Array<{ what: string; edit: (index: SeekIndex, small: number) => Buffer; warning: RegExp }> = [
  {
    what: "an index that does not decompress",
    edit: (index) => {
      const frame = encodeSeekIndex(index);
      frame.fill(0x55, 8, frame.length - SEEK_FOOTER_SIZE);
      return frame;
    },
    warning: /its index is damaged \(the index does not decompress/,
  },
  {
    what: "an entry past the end of the tar",
    edit: (index) => encodeSeekIndex({ ...index, entries: index.entries.map((e, i) => (i === index.entries.length - 1 ? { ...e, offset: index.endOfEntries + 1024 } : e)) }),
    warning: /its index is damaged/,
  },
  {
    what: "an entry that is not where the index says (another entry's header is there)",
    edit: (index, small) => {
      // the small file's name moved onto the entry before it: the bytes there are another file's
      const entries = index.entries.map((e, i) => (i === small - 1 ? { ...e, name: index.entries[small]!.name } : i === small ? { ...e, name: `${e.name}.gone` } : e));
      return encodeSeekIndex({ ...index, entries });
    },
    warning: /the index puts ".*small\.conf" at byte \d+, where the tar has ".*"; the index cannot be trusted/,
  },
  {
    what: "an entry whose length the index gets wrong",
    edit: (index, small) => {
      // every entry after the small file is said to start one block later
      const entries = index.entries.map((e, i) => (i > small ? { ...e, offset: e.offset + 512 } : e));
      return encodeSeekIndex({ ...index, entries, endOfEntries: index.endOfEntries + 512 });
    },
    warning: /the index gives ".*small\.conf" \d+ bytes, its header \d+; the index cannot be trusted/,
  },
];

for (const lie of LIES) {
  test(`${lie.what}: caught, said, and the file is restored from the whole archive`, (t) => {
    if (!needTools(t, "age", "zstd")) return;
    const fx = bulkyFixture(t, "zstd");
    const forged = withIndex(fx, (index) => lie.edit(index, index.entries.findIndex((e) => e.name.endsWith(SMALL))));
    const target = join(fx.dir, "restored");
    const res = sov(["restore", forged, target, "--path", member(fx, SMALL), "--identity", fx.identity], fx.env);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout + res.stderr, lie.warning);
    assert.equal(readFileSync(join(target, member(fx, SMALL)), "utf8"), SMALL_CONTENT);
    assert.deepEqual(filesUnder(target), [member(fx, SMALL)], "no other file was written");
  });
}

test("--files on an archive without an index (the stock pipeline's) reads it whole and says so", (t) => {
  if (!needTools(t, "age", "age-keygen", "zstd", "tar")) return;
  const dir = scratch(t, "seek-noindex");
  mkdirSync(join(dir, "data/etc"), { recursive: true });
  writeFileSync(join(dir, "data/etc/hosts"), "127.0.0.1 localhost\n");
  execFileSync("age-keygen", ["-o", join(dir, "key.txt")], { stdio: "ignore" });
  const recipient = execFileSync("age-keygen", ["-y", join(dir, "key.txt")], { encoding: "utf8" }).trim();
  const file = join(dir, "sovereign-backup-old-20250101-000000.tar.zst.age");
  sh(`tar -C ${dir} -c data | zstd -q | age -r ${recipient} -o ${file}`);
  const res = sov(["restore", "--files", file, "data/etc", "--identity", join(dir, "key.txt")], { SOVEREIGN_BACKUP_CONFIG_DIR: join(dir, "none") });
  assert.equal(res.code, 0, res.stderr);
  assert.match(res.stderr, /has no index: reading the whole archive to list it/);
  assert.deepEqual(res.stdout.trim().split("\n").map((l) => l.split(/\s+/).slice(4).join(" ")), ["data/etc/", "data/etc/hosts"]);
  const missing = sov(["restore", "--files", file, "nothing/here", "--identity", join(dir, "key.txt")], { SOVEREIGN_BACKUP_CONFIG_DIR: join(dir, "none") });
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /nothing\/here: not found in the archive/);
});
