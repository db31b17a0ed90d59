/**
 * The writer (source-fs) and the reader (restore) through the one archive module: a tree with
 * every entry type sov archives goes through `sov run` and `sov restore`, and comes back as GNU
 * tar extracts the same archive; an archive GNU tar writes in its own format (GNU long names)
 * restores the same way.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { needRoot, needTools } from "../helpers.js";
import { makeScene, plainTar } from "./scene.js";

/** Builds the tree under `data`: names are byte strings (latin1) so that one can be non-UTF-8. */
function buildTree(data: string): void {
  const at = (rel: string) => Buffer.from(`${data}/${rel}`, "latin1");
  const file = (rel: string, content: string | Buffer, mode = 0o644) => {
    fs.writeFileSync(at(rel), content);
    fs.chmodSync(at(rel), mode);
  };
  fs.mkdirSync(at("dir/sub"), { recursive: true });
  file("dir/plain.txt", "plain\n");
  file("dir/setuid-tool", "#!/bin/sh\n", 0o4755);
  fs.chmodSync(at("dir/sub"), 0o2750);
  fs.symlinkSync("../dir/plain.txt", at("dir/link"));
  fs.symlinkSync(`${"t".repeat(150)}/dangling`, at("dir/long-link"));
  fs.linkSync(at("dir/plain.txt"), at("dir/hard"));
  execFileSync("mkfifo", [at("dir/fifo").toString()]);
  execFileSync("mknod", [at("dir/null").toString(), "c", "1", "3"]);
  execFileSync("mknod", [at("dir/loopish").toString(), "b", "7", "200"]);
  file("caf\xe9-\xff.bin", Buffer.from([0, 1, 2, 255])); // a name that is not UTF-8
  file(Buffer.from("日本語 ünïcode.txt").toString("latin1"), "utf-8 name\n");
  const long = `${"a".repeat(200)}/${"b".repeat(200)}/${"c".repeat(200)}`;
  fs.mkdirSync(at(long), { recursive: true });
  file(`${long}/${"f".repeat(240)}`, "a long name\n");
  file("big-ids", "owned by nobody known\n");
  fs.chownSync(at("big-ids"), 3_000_000, 4_000_000);
  file("old", "from 1960\n");
  fs.utimesSync(at("old"), new Date(0), new Date(-315_619_200_000));
  const sparse = fs.openSync(at("sparse.img"), "w");
  fs.writeSync(sparse, "end", 64 * 2 ** 20 - 3);
  fs.closeSync(sparse);
  fs.utimesSync(at("dir"), new Date(0), new Date(1_500_000_000_000));
}

interface Node {
  type: string;
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  content?: string;
  link?: string;
  rdev?: number;
  inode?: string;
}

/** Path (latin1) → what a restore must reproduce; hard links share the name of their first path. */
function tree(root: string): Map<string, Node> {
  const nodes = new Map<string, Node>();
  const firstPathOf = new Map<bigint, string>();
  const visit = (rel: string) => {
    const path = Buffer.from(rel ? `${root}/${rel}` : root, "latin1");
    const st = fs.lstatSync(path, { bigint: true });
    const type = st.isFile() ? "file" : st.isDirectory() ? "dir" : st.isSymbolicLink() ? "symlink" : st.isFIFO() ? "fifo" : st.isCharacterDevice() ? "chardev" : "blockdev";
    const node: Node = { type, mode: Number(st.mode & 0o7777n), uid: Number(st.uid), gid: Number(st.gid), mtime: Number(st.mtimeNs / 1_000_000_000n) };
    if (type === "file") node.content = createHash("sha256").update(fs.readFileSync(path)).digest("hex");
    if (type === "symlink") node.link = fs.readlinkSync(path, "latin1");
    if (type === "chardev" || type === "blockdev") node.rdev = Number(st.rdev);
    if (type === "file" && st.nlink > 1n) {
      if (!firstPathOf.has(st.ino)) firstPathOf.set(st.ino, rel);
      node.inode = firstPathOf.get(st.ino)!;
    }
    if (rel) nodes.set(rel, node);
    if (type === "dir") for (const name of fs.readdirSync(path, "latin1").sort()) visit(rel ? `${rel}/${name}` : name);
  };
  visit("");
  return nodes;
}

function assertSame(actual: Map<string, Node>, expected: Map<string, Node>, what: string): void {
  assert.deepEqual([...actual.keys()].sort(), [...expected.keys()].sort(), `${what}: the same paths`);
  for (const [path, node] of expected) assert.deepEqual(actual.get(path), node, `${what}: ${Buffer.from(path, "latin1").toString()}`);
}

function gnuExtract(tar: Buffer, into: string): void {
  fs.mkdirSync(into);
  execFileSync("tar", ["-xf", "-", "-C", into, "--warning=no-timestamp"], { input: tar, maxBuffer: 1 << 30 });
}

test("every entry type goes through sov run and sov restore as GNU tar extracts it", async (t) => {
  if (!needTools(t, "age", "zstd", "tar", "mknod", "mkfifo") || !needRoot(t)) return;
  const s = makeScene(t, "round-trip");
  buildTree(s.data);
  const member = s.data.slice(1);
  const source = tree(s.data);

  const run = s.run();
  assert.equal(run.code, 0, run.stderr);
  const viaSov = join(s.dir, "sov");
  fs.mkdirSync(viaSov);
  const restore = s.run(["restore", s.archive(), viaSov, "--allow-devices", "--allow-setid"]);
  assert.equal(restore.code, 0, restore.stderr);
  const viaGnu = join(s.dir, "gnu");
  gnuExtract(plainTar(s.archive(), s.identity), viaGnu);

  const restored = tree(join(viaSov, member));
  assertSame(restored, tree(join(viaGnu, member)), "sov restore and GNU tar -x of the same archive");
  assertSame(restored, source, "the restore and the source");
  assert.equal(restored.get("old")!.mtime, -315_619_200, "1960 stays 1960");
  assert.equal(restored.get("big-ids")!.uid, 3_000_000);
});

test("an archive GNU tar writes in its own format (GNU long names and links) restores as GNU tar extracts it", async (t) => {
  if (!needTools(t, "age", "tar", "mknod", "mkfifo") || !needRoot(t)) return;
  const s = makeScene(t, "gnu-format");
  buildTree(s.data);
  const tar = execFileSync("tar", ["--format=gnu", "-cf", "-", "-C", s.data, "."], { maxBuffer: 1 << 30 });
  assert.ok(tar.includes("././@LongLink"), "GNU tar wrote long-name entries");
  const archive = join(s.backups, "sovereign-backup-gnu-20260101-000000.tar.age");
  execFileSync("age", ["-r", execFileSync("age-keygen", ["-y", s.identity], { encoding: "utf8" }).trim(), "-o", archive], { input: tar });

  const viaSov = join(s.dir, "sov");
  fs.mkdirSync(viaSov);
  const restore = s.run(["restore", archive, viaSov, "--allow-devices", "--allow-setid"]);
  assert.equal(restore.code, 0, restore.stderr);
  const viaGnu = join(s.dir, "gnu");
  gnuExtract(tar, viaGnu);
  // GNU tar's `.` entry sets the top directory: compare what is inside
  assertSame(tree(viaSov), tree(viaGnu), "sov restore and GNU tar -x of a GNU-format archive");
});
