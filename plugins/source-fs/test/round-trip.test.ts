import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, chownSync, linkSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, symlinkSync, utimesSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { test } from "node:test";
import { archiveTo, makeSource, requireGnuTar, tar, tarList, tempDir } from "./helpers.js";

const isRoot = process.getuid?.() === 0;
const OLD = 1_000_000_000; // 2001-09-09

/** A tree with every kind of entry the source must preserve; returns what is worth checking by hand. */
function buildTree(tree: string): void {
  const file = (rel: string, data: string | Buffer, mode = 0o644) => {
    mkdirSync(join(tree, rel, ".."), { recursive: true });
    writeFileSync(join(tree, rel), data);
    chmodSync(join(tree, rel), mode);
  };
  file("empty.txt", "");
  file("small.txt", "hello\n");
  file("exact-512.bin", randomBytes(512));
  file("big.bin", randomBytes(3 * 1024 * 1024 + 123));
  file("a/b/c/nested.txt", "nested\n");
  mkdirSync(join(tree, "empty-dir"));
  mkdirSync(join(tree, "a/empty-nested"));
  file(`${"n".repeat(116)}.txt`, "a 120-byte name\n");
  const deep = `long/${"d".repeat(60)}/${"e".repeat(60)}/${"f".repeat(60)}/${"g".repeat(58)}.txt`;
  assert.equal(deep.length, 250);
  file(deep, "a 250-byte path\n");
  file("äöü-日本.txt", "unicode\n");
  file("with space.txt", "spaces\n");
  file("private.txt", "0600\n", 0o600);
  file("tool.sh", "#!/bin/sh\n", 0o755);
  file("setuid-tool", "setuid\n", 0o4755);
  mkdirSync(join(tree, "sticky"));
  chmodSync(join(tree, "sticky"), 0o1777);
  file("old.txt", "old\n");
  utimesSync(join(tree, "old.txt"), OLD, OLD);
  symlinkSync("small.txt", join(tree, "rel-link"));
  symlinkSync("/etc/hostname", join(tree, "abs-link"));
  symlinkSync("does-not-exist", join(tree, "dangling-link"));
  symlinkSync("a/b", join(tree, "dir-link"));
  symlinkSync(`${"t".repeat(150)}/target`, join(tree, "long-target-link"));
  file("hardlink-1.txt", "shared inode\n");
  linkSync(join(tree, "hardlink-1.txt"), join(tree, "hardlink-2.txt"));
  // a name that is not UTF-8: archived byte for byte (PAX hdrcharset=BINARY)
  writeFileSync(Buffer.from(`${tree}/latin1-\xe9.txt`, "latin1"), "latin1 name\n");
  spawnSync("mkfifo", [join(tree, "fifo")]);
  if (isRoot) {
    file("owned.txt", "owned by 1234:5678\n");
    chownSync(join(tree, "owned.txt"), 1234, 5678);
    file("big-uid.txt", "uid past ustar's octal field\n");
    chownSync(join(tree, "big-uid.txt"), 3_000_000, 3_000_001);
    spawnSync("mknod", [join(tree, "null-dev"), "c", "1", "3"]);
  }
  utimesSync(join(tree, "a/b"), OLD + 60, OLD + 60);
}

/** Every path under `dir`, relative, as byte strings (latin1) so non-UTF-8 names compare exactly. */
function walk(dir: string, rel = ""): string[] {
  const out: string[] = [];
  for (const name of readdirSync(Buffer.from(join(dir, rel), "latin1"), { encoding: "buffer" }).map((b) => b.toString("latin1")).sort()) {
    const path = rel ? `${rel}/${name}` : name;
    out.push(path);
    if (lstatSync(Buffer.from(join(dir, path), "latin1")).isDirectory()) out.push(...walk(dir, path));
  }
  return out;
}

test("round trip through GNU tar preserves content, modes, times, links and owners", async (t) => {
  if (!requireGnuTar(t)) return;
  const root = tempDir(t);
  const tree = join(root, "tree");
  mkdirSync(tree);
  buildTree(tree);
  const socket = createServer().listen(join(tree, "socket"));
  t.after(() => socket.close());
  await new Promise((resolve) => socket.once("listening", resolve));

  const archive = join(root, "out.tar");
  const source = makeSource({ paths: ["tree"], root });
  await archiveTo(source, archive);
  const out = join(root, "extracted");
  mkdirSync(out);
  const { stderr } = tar(["-x", "--same-permissions", "--numeric-owner", "-f", archive, "-C", out]);
  assert.equal(stderr, "", "GNU tar extracts without a warning");

  const expected = walk(tree).filter((p) => p !== "socket");
  assert.deepEqual(walk(join(out, "tree")), expected, "the extracted tree has exactly the source's entries, sockets aside");
  const inodes = new Map<string, number>();
  for (const rel of expected) {
    const a = lstatSync(Buffer.from(join(tree, rel), "latin1"));
    const b = lstatSync(Buffer.from(join(out, "tree", rel), "latin1"));
    assert.equal(b.mode, a.mode, `${rel}: type and mode`);
    if (isRoot) assert.deepEqual([b.uid, b.gid], [a.uid, a.gid], `${rel}: owner`);
    if (a.isSymbolicLink()) {
      assert.equal(readlinkSync(join(out, "tree", rel)), readlinkSync(join(tree, rel)), `${rel}: symlink target`);
      continue;
    }
    assert.equal(Math.floor(b.mtimeMs / 1000), Math.floor(a.mtimeMs / 1000), `${rel}: mtime`);
    if (a.isFile()) {
      assert.ok(readFileSync(Buffer.from(join(out, "tree", rel), "latin1")).equals(readFileSync(Buffer.from(join(tree, rel), "latin1"))), `${rel}: content`);
      if (a.nlink > 1) inodes.set(rel, b.ino);
    }
    if (a.isCharacterDevice()) assert.equal(b.rdev, a.rdev, `${rel}: device number`);
  }
  assert.equal(inodes.get("hardlink-1.txt"), inodes.get("hardlink-2.txt"), "the hardlink pair shares one inode after extraction");
  assert.ok(lstatSync(join(out, "tree/empty-dir")).isDirectory());
  assert.equal(lstatSync(join(out, "tree/setuid-tool")).mode & 0o7777, 0o4755);
  assert.equal(lstatSync(join(out, "tree/old.txt")).mtimeMs, OLD * 1000);

  assert.equal(source.stats.warnings.length, 0, `no warnings: ${source.stats.warnings.join("; ")}`);
  assert.equal(source.stats.bytes, expected.filter((p) => lstatSync(Buffer.from(join(tree, p), "latin1")).isFile()).reduce((n, p) => n + (p === "hardlink-2.txt" ? 0 : lstatSync(Buffer.from(join(tree, p), "latin1")).size), 0));
});

test("member names are relative, directories come before their contents, parents of a source are not archived", async (t) => {
  if (!requireGnuTar(t)) return;
  const root = tempDir(t);
  buildTree(join(root, "srv/app"));
  const archive = join(root, "out.tar");
  await archiveTo(makeSource({ paths: ["/srv/app"], root }), archive);

  const listed = tar(["-tf", archive, "--quoting-style=literal"]).stdout.split("\n").filter(Boolean);
  assert.ok(listed.every((n) => n.startsWith("srv/app")), "only srv/app and below, no srv/ entry, no leading /");
  const seen = new Set<string>();
  for (const name of listed) {
    const parent = name.replace(/\/$/, "").split("/").slice(0, -1).join("/");
    if (parent !== "srv") assert.ok(seen.has(parent), `${name} comes after its directory`);
    seen.add(name.replace(/\/$/, ""));
  }
  // GNU tar, given the same tree, archives the same members
  const gnu = join(root, "gnu.tar");
  tar(["-c", "-f", gnu, "-C", root, "srv/app"]);
  assert.deepEqual(tarList(archive), tarList(gnu));
});

test("a source of / archives the root's content without an entry for the root", async (t) => {
  if (!requireGnuTar(t)) return;
  const root = tempDir(t);
  mkdirSync(join(root, "etc"));
  writeFileSync(join(root, "etc/hosts"), "127.0.0.1 localhost\n");
  writeFileSync(join(root, "top.txt"), "top\n");
  const archive = join(tempDir(t), "out.tar");
  await archiveTo(makeSource({ paths: ["/"], root }), archive);
  assert.deepEqual(tarList(archive), ["etc", "etc/hosts", "top.txt"]);
});
