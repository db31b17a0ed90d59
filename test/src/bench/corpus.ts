/**
 * The benchmark's inputs, cached under <repo>/.bench (gitignored): corpora built by the shared
 * make-corpus.mjs, keyed by size (or file count) and seed, and a throwaway age keypair.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const MAKE_CORPUS = "/work/shared/bench/make-corpus.mjs";

export interface Corpus {
  /** Absolute path of the tree that is backed up. */
  dir: string;
  /** Bytes of file content and number of files, as make-corpus.mjs reported them. */
  bytes: number;
  files: number;
  describe: string;
}

export type CorpusSpec = { kind: "size"; size: string; seed: number } | { kind: "small"; files: number; seed: number };

/**
 * Builds the corpus only when it is missing. The marker (make-corpus's own summary) sits beside
 * the tree, not in it, so it is not backed up; a tree without one was cut short and is rebuilt.
 */
export function ensureCorpus(benchDir: string, spec: CorpusSpec): Corpus {
  const name = spec.kind === "size" ? `corpus-${spec.size}-seed${spec.seed}` : `small-${spec.files}-seed${spec.seed}`;
  const dir = join(benchDir, name);
  const marker = `${dir}.json`;
  if (!existsSync(marker)) {
    rmSync(dir, { recursive: true, force: true });
    const args = spec.kind === "size" ? ["--size", spec.size] : ["--small-files", String(spec.files)];
    process.stdout.write(`building corpus ${dir} (${args.join(" ")}, seed ${spec.seed}) ... `);
    const started = performance.now();
    const res = spawnSync(process.execPath, [MAKE_CORPUS, dir, ...args, "--seed", String(spec.seed)], { encoding: "utf8", maxBuffer: 1 << 24 });
    if (res.status !== 0) throw new Error(`make-corpus.mjs failed (exit ${res.status}): ${res.stderr}`);
    const summary = res.stdout.trim().split("\n").pop() ?? "";
    JSON.parse(summary); // fail here, not later, if it printed something unexpected
    // The tree must be on disk before it counts as built, or a crash leaves a marker for half a tree.
    execFileSync("sync");
    writeFileSync(marker, `${summary}\n`);
    process.stdout.write(`${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  }
  const { bytes, files } = JSON.parse(readFileSync(marker, "utf8")) as { bytes: number; files: number };
  return { dir, bytes, files, describe: `${name}: ${(bytes / 2 ** 20).toFixed(0)} MiB in ${files.toLocaleString("en-US")} files` };
}

export interface Keypair {
  identity: string;
  /** A recipients file, as sov's encrypt stage reads it. */
  recipientsFile: string;
  recipient: string;
}

export function ensureKeypair(benchDir: string): Keypair {
  const identity = join(benchDir, "identity.txt");
  const recipientsFile = join(benchDir, "recipients.txt");
  mkdirSync(benchDir, { recursive: true, mode: 0o755 });
  if (!existsSync(identity)) execFileSync("age-keygen", ["-o", identity], { stdio: "ignore" });
  const recipient = execFileSync("age-keygen", ["-y", identity], { encoding: "utf8" }).trim();
  writeFileSync(recipientsFile, `${recipient}\n`);
  return { identity, recipientsFile, recipient };
}

/** Parses `1G`, `256M`, `512K` or a byte count the way make-corpus.mjs does. */
export function parseSize(text: string): number {
  const units: Record<string, number> = { K: 2 ** 10, M: 2 ** 20, G: 2 ** 30 };
  const n = Math.round(parseFloat(text) * (units[text.slice(-1).toUpperCase()] ?? 1));
  if (!Number.isFinite(n) || n <= 0) throw new Error(`--size ${text}: expected a size such as 256M, 1G or 4G`);
  return n;
}
