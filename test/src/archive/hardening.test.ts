/**
 * Issue 16, the archive-shaped items: a tree deeper than PATH_MAX, times before 1970, and a
 * hostile run of PAX headers. Real sov runs and restores, real age, zstd and GNU tar.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { lstatSync, mkdirSync, readdirSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { encodeHeader, paxRecord } from "@sov/core/archive";
import { needRoot, needTools } from "../helpers.js";
import { gnuTarMembers, makeDeepTree, makeScene, plainTar, type Scene, sovMeasured } from "./scene.js";

/** The restored copy of a file under TARGET, found by `find` (which copes with any depth). */
function findUnder(target: string, name: string): string[] {
  return execFileSync("find", [target, "-name", name, "-type", "f", "-execdir", "cat", "{}", ";"], { encoding: "utf8" }).split("\n").filter(Boolean);
}

/**
 * Runs `body` on a scene whose tree is too deep for the scratch directory's recursive rmSync
 * (its stack runs out): GNU rm removes the tree first, whatever happens.
 */
async function withDeepTree(t: TestContext, label: string, body: (s: Scene) => Promise<void> | void): Promise<void> {
  const s = makeScene(t, label);
  try {
    await body(s);
  } finally {
    execFileSync("rm", ["-rf", "--", s.data, join(s.dir, "restored")]);
  }
}

test("a tree 2000 directories deep (paths of ~8000 bytes) is archived whole and restored whole", async (t) => {
  if (!needTools(t, "age", "zstd", "tar") || !needRoot(t)) return;
  await withDeepTree(t, "deep-tree", (s) => {
    makeDeepTree(s.data, 2000);
    const gnuCount = gnuTarMembers(execFileSync("tar", ["-cf", "-", "-C", "/", s.data.slice(1)], { maxBuffer: 1 << 28 })).length;
    assert.equal(gnuCount, 2002, "GNU tar archives the data directory, 2000 directories and the leaf");

    const run = s.run();
    assert.equal(run.code, 0, run.stderr);
    const members = gnuTarMembers(plainTar(s.archive(), s.identity));
    assert.equal(members.length, gnuCount, "the archive holds every entry GNU tar archives");
    assert.ok(members.at(-1)!.endsWith("/ddd/leaf.txt") && members.at(-1)!.length > 8000, "the leaf, ~8000 bytes deep, is in it");

    const verify = s.run(["restore", "--verify", s.archive()]);
    assert.equal(verify.code, 0, verify.stderr);
    const target = join(s.dir, "restored");
    mkdirSync(target);
    const restore = s.run(["restore", s.archive(), target]);
    assert.equal(restore.code, 0, `restore's depth limit must not refuse what backup wrote: ${restore.stderr.slice(0, 2000)}`);
    assert.deepEqual(findUnder(target, "leaf.txt"), ["leaf"], "the leaf is restored with its content");
  });
});

test("a tree deeper than restore accepts fails the run (exit 1) naming where, and writes no archive", async (t) => {
  if (!needTools(t, "age", "zstd") || !needRoot(t)) return;
  await withDeepTree(t, "too-deep", (s) => {
    makeDeepTree(s.data, 4100, "d");
    const run = s.run();
    assert.equal(run.code, 1, run.stderr.slice(0, 2000));
    assert.match(run.stderr, /\/d\/d\/d.*: its entries are more than 4096 directory levels deep, more than restore accepts; exclude it/);
    assert.deepEqual(readdirSync(s.backups), [], "no archive, no temporary file");
  });
});

test("times before 1970 restore as GNU tar keeps them, for files, directories and symlinks", async (t) => {
  if (!needTools(t, "age", "zstd", "tar") || !needRoot(t)) return;
  const s = makeScene(t, "old-times");
  const old = -315_619_200; // 1960-01-01
  mkdirSync(join(s.data, "old-dir"));
  writeFileSync(join(s.data, "old-dir", "old-file"), "from the sixties\n");
  symlinkSync("old-file", join(s.data, "old-dir", "old-link"));
  execFileSync("touch", ["-h", "-d", "@-1", join(s.data, "old-dir", "old-link")]);
  utimesSync(join(s.data, "old-dir", "old-file"), new Date(0), new Date(old * 1000));
  utimesSync(join(s.data, "old-dir"), new Date(0), new Date((old - 86_400) * 1000));

  const run = s.run();
  assert.equal(run.code, 0, run.stderr);
  const listing = execFileSync("tar", ["-tvf", "-", "--full-time", "--utc"], { input: plainTar(s.archive(), s.identity), env: { ...process.env, TZ: "UTC" } }).toString();
  assert.match(listing, /1960-01-01 00:00:00 .*old-dir\/old-file\n/, "GNU tar reads the old time from the archive");

  const target = join(s.dir, "restored");
  mkdirSync(target);
  const restore = s.run(["restore", s.archive(), target]);
  assert.equal(restore.code, 0, restore.stderr);
  const restored = join(target, s.data.slice(1), "old-dir");
  assert.equal(lstatSync(join(restored, "old-file")).mtimeMs, old * 1000, "a file from 1960 is still from 1960");
  assert.equal(lstatSync(restored).mtimeMs, (old - 86_400) * 1000, "so is a directory");
  assert.equal(lstatSync(join(restored, "old-link")).mtimeMs, -1000, "and a symlink, one second before 1970");
});

test("a run of PAX headers in front of one entry stops restore quickly with exit 1; what came before is restored", async (t) => {
  if (!needTools(t, "age") || !needRoot(t)) return;
  const s = makeScene(t, "pax-flood");
  const entry = (name: string, content: string) => [
    encodeHeader({ name, type: "file", mode: 0o644, uid: 0, gid: 0, size: content.length, mtime: 1_767_225_600 }),
    Buffer.from(content.padEnd(Math.ceil(content.length / 512) * 512, "\0")),
  ];
  // 40000 extended headers of ~1 KiB, each with its own key: a few MB of archive
  const flood: Buffer[] = [];
  for (let i = 0; i < 40_000; i++) {
    const records = paxRecord(`sov.flood${i}`, "x".repeat(1000));
    flood.push(encodeHeader({ name: "PaxHeaders/f", type: "file", mode: 0o644, uid: 0, gid: 0, size: records.length, mtime: 0 }));
    flood[flood.length - 1]![156] = "x".charCodeAt(0);
    fixChecksum(flood[flood.length - 1]!);
    flood.push(Buffer.from(records.padEnd(Math.ceil(records.length / 512) * 512, "\0"), "latin1"));
  }
  const tar = Buffer.concat([...entry("before.txt", "kept\n"), ...flood, ...entry("flooded.txt", "never\n"), Buffer.alloc(1024)]);
  const archive = join(s.backups, "sovereign-backup-evil-20260101-000000.tar.age");
  execFileSync("age", ["-r", execFileSync("age-keygen", ["-y", s.identity], { encoding: "utf8" }).trim(), "-o", archive], { input: tar });

  const target = join(s.dir, "restored");
  mkdirSync(target);
  const restore = await sovMeasured(["restore", archive, target], s.env, 120_000);
  assert.equal(restore.code, 1, restore.stderr);
  assert.match(restore.stderr, /more than 32 extended headers in a row at byte 1024; no tar writes that many for one entry \(hostile archive\)/);
  assert.ok(restore.seconds < 60, `restore gave up in ${restore.seconds.toFixed(1)} s`);
  assert.ok(restore.peakMiB < 200, `restore peaked at ${restore.peakMiB.toFixed(0)} MiB`);
  assert.deepEqual(readdirSync(target), ["before.txt"], "the entry before the flood is restored, nothing else");
});

/** Recomputes a header block's checksum after a byte of it was changed. */
function fixChecksum(block: Buffer): void {
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += block[i]!;
  block.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "latin1");
}
