/**
 * A source tree, an age key and a v2 config writing to a local directory, for the archive
 * tests; and a way to run `sov` while measuring its peak memory.
 */
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { ageKeypair, scratch, SOV_BIN, SOV_NODE_FLAGS, sov, type SovResult } from "../helpers.js";

export interface Scene {
  dir: string;
  /** The tree that is backed up. */
  data: string;
  backups: string;
  identity: string;
  env: Record<string, string>;
  /** Writes the config: `compress` is a plugin name or none; `source` adds keys to the source block. */
  configure(opts?: { compress?: "zstd" | "lz4" | "gzip" | "none"; source?: string }): void;
  run(args?: string[]): SovResult;
  /** The one archive in the backup directory (fails when there is not exactly one). */
  archive(): string;
}

export function makeScene(t: TestContext, label: string): Scene {
  const dir = scratch(t, label);
  const data = join(dir, "data");
  const backups = join(dir, "backups");
  const etc = join(dir, "etc");
  mkdirSync(data);
  mkdirSync(etc);
  mkdirSync(backups, { mode: 0o700 });
  const { identity, recipient } = ageKeypair(dir);
  writeFileSync(join(dir, "recipients.txt"), `${recipient}\n`);
  const env = {
    SOVEREIGN_BACKUP_CONFIG_DIR: etc,
    SOVEREIGN_BACKUP_LOCKDIR: join(dir, "run", "lock"),
    SOVEREIGN_BACKUP_LOG: join(dir, "sov.log"),
    SOVEREIGN_BACKUP_IDENTITY: identity,
  };
  const scene: Scene = {
    dir, data, backups, identity, env,
    configure({ compress = "zstd", source = "" } = {}) {
      writeFileSync(
        join(etc, "config.yaml"),
        `version: 2
host: archivetest
source: { plugin: fs, paths: [${data}]${source ? `, ${source}` : ""} }
${compress === "none" ? "" : `compress: { plugin: ${compress} }`}
encrypt: { plugin: age, recipients_file: ${join(dir, "recipients.txt")} }
destinations:
  - { plugin: local, path: ${backups} }
`,
      );
    },
    run(args = ["run"]) {
      return sov(args, env);
    },
    archive() {
      const names = readdirSync(backups).filter((n) => n.endsWith(".age"));
      if (names.length !== 1) throw new Error(`expected one archive in ${backups}, found ${names.join(", ") || "none"}`);
      return join(backups, names[0]!);
    },
  };
  scene.configure();
  return scene;
}

/** The plaintext tar of an archive, decoded by the stock tools (age, then zstd/lz4/gzip). */
export function plainTar(archive: string, identity: string): Buffer {
  const decrypted = execFileSync("age", ["-d", "-i", identity, archive], { maxBuffer: 1 << 30 });
  const decompress = archive.endsWith(".zst.age") ? ["zstd", "-dc"] : archive.endsWith(".lz4.age") ? ["lz4", "-dc"] : archive.endsWith(".gz.age") ? ["gzip", "-dc"] : null;
  return decompress ? execFileSync(decompress[0]!, decompress.slice(1), { input: decrypted, maxBuffer: 1 << 30 }) : decrypted;
}

/** Member names GNU tar lists in a tar, in archive order. */
export function gnuTarMembers(tar: Buffer): string[] {
  const out = execFileSync("tar", ["-tf", "-", "--quoting-style=literal"], { input: tar, maxBuffer: 1 << 30, env: { ...process.env, LC_ALL: "C" } });
  return out.toString("latin1").split("\n").filter(Boolean);
}

/**
 * A chain of `depth` directories named `name` below `dir`, a file `leaf.txt` ("leaf") at the
 * bottom. Made by a child that descends with chdir: no single path reaches the kernel whole.
 */
export function makeDeepTree(dir: string, depth: number, name = "ddd"): void {
  const script = `const fs = require("fs"); process.chdir(process.argv[1]);
    for (let i = 0; i < ${depth}; i++) { fs.mkdirSync(${JSON.stringify(name)}); process.chdir(${JSON.stringify(name)}); }
    fs.writeFileSync("leaf.txt", "leaf");`;
  execFileSync(process.execPath, ["-e", script, dir]);
}

export interface MeasuredRun extends SovResult {
  /** The child's peak resident memory (VmHWM), in MiB. */
  peakMiB: number;
  seconds: number;
}

/**
 * Runs `sov` as a child and samples its VmHWM (the kernel's own peak RSS, which only grows) until
 * it exits; a run past `timeoutMs` is killed and reported with code -1.
 */
export function sovMeasured(args: string[], env: Record<string, string>, timeoutMs = 300_000): Promise<MeasuredRun> {
  const started = process.hrtime.bigint();
  const child = spawn(process.execPath, [...SOV_NODE_FLAGS, SOV_BIN, ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (s: string) => (stdout += s));
  child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
  let peakKiB = 0;
  const sample = () => {
    try {
      const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, "utf8"));
      if (m) peakKiB = Math.max(peakKiB, Number(m[1]));
    } catch {
      // exited between two samples
    }
  };
  const sampler = setInterval(sample, 20);
  const killer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
  return new Promise((resolve) => {
    child.on("exit", (code) => {
      clearInterval(sampler);
      clearTimeout(killer);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      resolve({ code: code ?? -1, stdout, stderr, peakMiB: peakKiB / 1024, seconds });
    });
  });
}
