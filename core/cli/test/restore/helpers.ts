import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import * as fs from "node:fs";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Readable, Transform, type TransformCallback } from "node:stream";
import type { TestContext } from "node:test";
import tarStream from "tar-stream";
import type { Logger, ArchiveDecoder } from "@sov/core";
import type { DecoderLookup } from "../../src/restore/index.js";

export const isRoot = process.getuid?.() === 0;

export function tempDir(t: TestContext, prefix = "sov-restore-test-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => removeTree(dir));
  return dir;
}

/** rm -rf that also works as non-root on trees holding read-only directories. */
export function removeTree(dir: string): void {
  try {
    fs.rmSync(dir, { recursive: true, force: true });
  } catch {
    spawnSync("chmod", ["-R", "u+rwX", dir], { stdio: "ignore" });
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export { hasTool, needRoot, needTools } from "@sov/core/testing";

/** Runs a shell pipeline with pipefail; throws with its stderr when it fails. */
export function sh(script: string, env: NodeJS.ProcessEnv = {}): string {
  const res = spawnSync("bash", ["-c", `set -euo pipefail\n${script}`], { encoding: "utf8", env: { ...process.env, ...env } });
  if (res.status !== 0) throw new Error(`shell failed (${res.status}): ${script}\n${res.stderr}`);
  return res.stdout;
}

export function q(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export interface AgeKey {
  identity: string;
  recipient: string;
}

export function makeAgeKey(dir: string, name = "key"): AgeKey {
  const identity = join(dir, `${name}.txt`);
  sh(`age-keygen -o ${q(identity)} 2>/dev/null`);
  return { identity, recipient: sh(`age-keygen -y ${q(identity)}`).trim() };
}

/** A Logger that keeps every line, for asserting on messages. */
export function captureLogger(): Logger & { lines: string[]; text(): string } {
  const lines: string[] = [];
  const warnings: string[] = [];
  const make = (scope: string): Logger => ({
    debug: (m) => lines.push(`debug: ${scope}${m}`),
    info: (m) => lines.push(`info: ${scope}${m}`),
    warn: (m) => {
      lines.push(`warn: ${scope}${m}`);
      warnings.push(m);
    },
    error: (m) => lines.push(`error: ${scope}${m}`),
    child: (s) => make(`${scope}${s}: `),
    warnings,
  });
  return Object.assign(make(""), { lines, text: () => lines.join("\n") });
}

/** Collects what is written to it, for stdout assertions. */
export function sink(): PassThrough & { text(): string } {
  const chunks: Buffer[] = [];
  const s = new PassThrough();
  s.on("data", (c) => chunks.push(c as Buffer));
  return Object.assign(s, { text: () => Buffer.concat(chunks).toString("utf8") });
}

/**
 * A decoder that runs a CLI (`age -d -i`, `zstd -d`) as a stream transform: the reference the
 * plugins' own decoders are checked against, and a way to test extraction without them.
 */
function cliTransform(command: string, args: string[]): Transform {
  const child = spawn(command, args, { stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((done) => child.on("close", (code) => done(code)));
  const t = new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      if (child.stdin.write(chunk)) cb();
      else child.stdin.once("drain", () => cb());
    },
    flush(cb: TransformCallback) {
      child.stdin.end();
      void exited.then((code) => cb(code === 0 ? null : new Error(`${command}: ${stderr.trim() || `exit ${code}`}`)));
    },
  });
  child.stdin.on("error", () => {});
  child.stdout.on("data", (d: Buffer) => t.push(d));
  t.on("close", () => child.kill());
  return t;
}

export const cliDecoders: DecoderLookup = async (extension) => {
  const spec: Record<string, (identity?: string) => [string, string[]]> = {
    age: (identity) => ["age", ["-d", "-i", identity ?? "/nonexistent"]],
    zst: () => ["zstd", ["-d", "-q", "-c"]],
    lz4: () => ["lz4", ["-d", "-q", "-c"]],
    gz: () => ["gzip", ["-d", "-c"]],
  };
  const make = spec[extension];
  if (!make) throw new Error(`no CLI decoder for .${extension}`);
  const decoder: ArchiveDecoder = {
    extension,
    createDecodeStream: async (ctx) => {
      const [cmd, args] = make(ctx.identityFile);
      return cliTransform(cmd, args);
    },
  };
  return decoder;
};

/** "Decrypts" by passing bytes through: lets a test name a plain tar `.tar.age`. */
export const passthroughDecoders: DecoderLookup = async (extension) => ({
  extension,
  createDecodeStream: async () => new PassThrough(),
});

export interface PackEntry {
  name: string;
  type?: "file" | "directory" | "symlink" | "link" | "fifo" | "character-device" | "block-device";
  linkname?: string;
  mode?: number;
  content?: string | Buffer;
  pax?: Record<string, string>;
  uid?: number;
  gid?: number;
  uname?: string;
  gname?: string;
  devmajor?: number;
  devminor?: number;
}

/** A tar made with tar-stream's pack, for crafted archives. */
export async function packTar(entries: PackEntry[]): Promise<Buffer> {
  const pack = tarStream.pack();
  const chunks: Buffer[] = [];
  pack.on("data", (c) => chunks.push(c as Buffer));
  const done = new Promise<void>((resolve, reject) => {
    pack.on("end", resolve);
    pack.on("error", reject);
  });
  for (const e of entries) {
    const type = e.type ?? "file";
    const content = e.content === undefined ? undefined : Buffer.from(e.content);
    await new Promise<void>((resolve, reject) => {
      const header = {
        name: e.name,
        type,
        mode: e.mode ?? (type === "directory" ? 0o755 : 0o644),
        mtime: new Date(1_600_000_000_000),
        uid: e.uid ?? 0,
        gid: e.gid ?? 0,
        ...(e.linkname !== undefined ? { linkname: e.linkname } : {}),
        ...(e.pax ? { pax: e.pax } : {}),
        ...(e.uname !== undefined ? { uname: e.uname } : {}),
        ...(e.gname !== undefined ? { gname: e.gname } : {}),
        ...(e.devmajor !== undefined ? { devmajor: e.devmajor, devminor: e.devminor ?? 0 } : {}),
        ...(content ? { size: content.length } : {}),
      };
      pack.entry(header, content ?? "", (err) => (err ? reject(err) : resolve()));
    });
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** One raw 512-byte tar header (GNU magic), for entry kinds tar-stream cannot write. */
export function rawHeader(fields: { name: string; typeflag: string; size?: number; mode?: number; linkname?: string }): Buffer {
  const b = Buffer.alloc(512);
  b.write(fields.name, 0, 100, "latin1");
  b.write(`${(fields.mode ?? 0o644).toString(8).padStart(7, "0")}\0`, 100, "latin1");
  b.write("0000000\0", 108, "latin1");
  b.write("0000000\0", 116, "latin1");
  b.write(`${(fields.size ?? 0).toString(8).padStart(11, "0")}\0`, 124, "latin1");
  b.write(`${(1_600_000_000).toString(8).padStart(11, "0")}\0`, 136, "latin1");
  b.write(fields.typeflag, 156, "latin1");
  if (fields.linkname) b.write(fields.linkname, 157, 100, "latin1");
  b.write("ustar  \0", 257, "latin1");
  b.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of b) sum += byte;
  b.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "latin1");
  return b;
}

export function padBlock(data: Buffer): Buffer {
  const pad = (512 - (data.length % 512)) % 512;
  return Buffer.concat([data, Buffer.alloc(pad)]);
}

/** A GNU `././@LongLink` entry naming the next one. */
export function gnuLongName(name: string): Buffer {
  const data = Buffer.from(`${name}\0`, "latin1");
  return Buffer.concat([rawHeader({ name: "././@LongLink", typeflag: "L", size: data.length }), padBlock(data)]);
}

export const END_OF_ARCHIVE = Buffer.alloc(1024);

export function readableOf(buf: Buffer, chunk = 4096): Readable {
  const pieces: Buffer[] = [];
  for (let i = 0; i < buf.length; i += chunk) pieces.push(buf.subarray(i, i + chunk));
  return Readable.from(pieces);
}

export interface NodeInfo {
  type: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtimeNs: bigint;
  sha?: string;
  link?: string;
  /** The first path (sorted) sharing this node's inode: hard links. */
  group?: string;
  rdev?: number;
}

/**
 * Everything a restore must reproduce about a tree, keyed by relative path as raw bytes
 * (latin1), so names that are not UTF-8 compare exactly.
 */
export function snapshotTree(root: string): Map<string, NodeInfo> {
  const out = new Map<string, NodeInfo>();
  const inodes = new Map<string, string>();
  const walk = (rel: Buffer | null) => {
    const path = rel ? Buffer.concat([Buffer.from(`${root}/`), rel]) : Buffer.from(root);
    const st = fs.lstatSync(path, { bigint: true });
    const key = rel ? rel.toString("latin1") : ".";
    const type = st.isFile() ? "file" : st.isDirectory() ? "dir" : st.isSymbolicLink() ? "symlink" : st.isFIFO() ? "fifo" : st.isCharacterDevice() ? "chardev" : st.isBlockDevice() ? "blockdev" : "other";
    const info: NodeInfo = { type, mode: Number(st.mode & 0o7777n), uid: Number(st.uid), gid: Number(st.gid), size: type === "file" ? Number(st.size) : 0, mtimeNs: st.mtimeNs };
    if (type === "file") info.sha = createHash("sha256").update(fs.readFileSync(path)).digest("hex");
    if (type === "symlink") info.link = (fs.readlinkSync(path, { encoding: "buffer" }) as Buffer).toString("latin1");
    if (type === "chardev" || type === "blockdev") info.rdev = Number(st.rdev);
    out.set(key, info);
    if (type !== "dir" && st.nlink > 1n) {
      const ino = `${st.dev}:${st.ino}`;
      if (!inodes.has(ino)) inodes.set(ino, key);
      info.group = inodes.get(ino)!;
    }
    if (type === "dir") {
      const names = (fs.readdirSync(path, { encoding: "buffer" }) as Buffer[]).sort(Buffer.compare);
      for (const name of names) walk(rel ? Buffer.concat([rel, Buffer.from("/"), name]) : name);
    }
  };
  walk(null);
  return out;
}

/** Asserts two trees are the same in content, modes, owners, mtimes, links and hard links. */
export function assertSameTree(actualRoot: string, expectedRoot: string, options: { mtimeToleranceNs?: bigint } = {}): void {
  const actual = snapshotTree(actualRoot);
  const expected = snapshotTree(expectedRoot);
  assert.deepEqual([...actual.keys()].sort(), [...expected.keys()].sort(), "the same paths");
  // Node sets times from a double of seconds, good to ~0.24 µs at today's dates, and its
  // versions convert it differently (20 rounds to µs, 22 truncates to µs, 24 keeps ns): a PAX
  // mtime with a fraction comes back within a microsecond, whole seconds exactly.
  const tolerance = options.mtimeToleranceNs ?? 1000n;
  for (const [path, exp] of expected) {
    const act = actual.get(path)!;
    const { mtimeNs: am, ...a } = act;
    const { mtimeNs: em, ...e } = exp;
    assert.deepEqual(a, e, `${Buffer.from(path, "latin1").toString()}: same type, mode, owner, content, link`);
    const diff = am > em ? am - em : em - am;
    assert.ok(diff <= tolerance, `${Buffer.from(path, "latin1").toString()}: mtime ${am} vs ${em}`);
  }
}

/** Lists a directory tree's paths, sizes and modes: to prove nothing outside TARGET changed. */
export function fingerprint(dir: string): string {
  return [...snapshotTree(dir)].map(([p, i]) => `${p} ${i.type} ${i.mode.toString(8)} ${i.sha ?? ""} ${i.link ?? ""} ${i.mtimeNs}`).join("\n");
}
