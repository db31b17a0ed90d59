/**
 * The benchmark's scenarios: each pairs one `sov` command with the stock-tool command it must
 * keep up with, says how to check what the sov command produced, and how to drop its outputs
 * before the next run.
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, openSync, closeSync, readSync, writeSync, fstatSync, rmSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { checkEmptyEntries } from "./empty-entries.js";
import { ScratchFilesystem } from "./scratch-fs.js";
import { SOV_BIN, SOV_NODE_FLAGS } from "../helpers.js";
import { CheckFailed, listArchive, onlyArchive, q, restoresExactly, sameBytes, sameList, sameTree } from "./check.js";
import type { Corpus, Keypair } from "./corpus.js";
import type { Command } from "./measure.js";

export const BASELINE = "/work/shared/bench/baseline.sh";
const LOOP_MONITOR = new URL("./loop-monitor.js", import.meta.url).href;

export interface Goals {
  /** sov's median wall time over the reference's, at most. */
  wallRatio: number;
  /** sov's median CPU time (user+sys of the process tree) over the reference's, at most. */
  cpuRatio?: number;
  /** Peak RSS of the sov process, at most (MiB). */
  rssMiB?: number;
  /** Longest event-loop block in any run, at most (ms). */
  loopMs?: number;
  /** sov's median wall time, at most (s): a goal of its own, whatever the reference takes. */
  wallS?: number;
}

export interface Scenario {
  name: string;
  /** One line: what is compared with what. */
  title: string;
  /** One line: what is checked before figures are reported. */
  checks: string;
  corpus: Corpus;
  goals: Goals;
  /** Writes configs, makes the input archive; untimed. */
  setup(): void;
  /** The arguments after `sov`. */
  sovArgs(): string[];
  ref(): Command;
  /** Checks what the run produced, then drops it. `run` 0 is the untimed warm-up. */
  afterSov(run: number): void;
  afterRef(run: number): void;
  /**
   * Backup scenarios: how long `sync FILE` took on the reference's archive right after each
   * timed run. baseline.sh does not fsync; sov does before it publishes, inside its wall time.
   */
  refFsyncS?: number[];
  /** Releases what setup() made (a scratch file system); runs after the last run, also after a failure. */
  teardown?(): void;
}

export interface BenchContext {
  /** Scratch space for this invocation (<repo>/.bench/work). */
  work: string;
  keys: Keypair;
  /** Environment for every sov command: lock, log and state inside `work`. */
  sovEnv: Record<string, string>;
}

/** How sov is started: timed (with the event-loop monitor preloaded), profiled, or plain. */
export type SovMode = { kind: "timed" } | { kind: "profile"; dir: string } | { kind: "plain" };

/** `node [flags] core/cli/bin/sov.js args`. */
export function sovCommand(args: string[], ctx: BenchContext, mode: SovMode = { kind: "timed" }): Command {
  const flags = [...SOV_NODE_FLAGS, ...(mode.kind === "timed" ? ["--import", LOOP_MONITOR] : mode.kind === "profile" ? ["--cpu-prof", "--cpu-prof-dir", mode.dir] : [])];
  const label = `sov ${args.slice(0, 2).join(" ")}${mode.kind === "profile" ? " (--cpu-prof)" : ""}`;
  return { label, argv: [process.execPath, ...flags, SOV_BIN, ...args], env: ctx.sovEnv, monitorLoop: mode.kind === "timed" };
}

/** Runs sov untimed for setup work; throws with its stderr unless it exits as `expect` says. */
function runSov(args: string[], ctx: BenchContext, expect: "ok" | "fail", what: string): void {
  const cmd = sovCommand(args, ctx, { kind: "plain" });
  const res = spawnSync(cmd.argv[0]!, cmd.argv.slice(1), { env: { ...process.env, ...cmd.env }, encoding: "utf8" });
  if (expect === "ok" && res.status !== 0) throw new CheckFailed(`${what}: sov ${args.join(" ")} exited ${res.status}\n${res.stderr}`);
  if (expect === "fail" && res.status === 0) throw new CheckFailed(`${what}: sov ${args.join(" ")} succeeded`);
}

export function bashCommand(label: string, script: string): Command {
  return { label, argv: ["bash", "-o", "pipefail", "-c", script] };
}

/** YAML list items for local destinations d1, d2, ... at `paths`, keeping every archive. */
function localDestinations(paths: readonly string[]): string[] {
  return paths.map((path, i) => `  - { name: d${i + 1}, plugin: local, path: ${JSON.stringify(path)}, retention: { days: 0 } }`);
}

/** The bench's v2 config: the corpus, zstd -3 and the bench key, to `destinations` (YAML list items). */
export function writeRunConfig(file: string, corpus: Corpus, ctx: BenchContext, destinations: readonly string[]): void {
  mkdirSync(join(file, ".."), { recursive: true });
  writeFileSync(
    file,
    [
      "# written by the sov benchmark (test/src/bench); compare with /work/shared/bench/baseline.sh",
      "version: 2",
      "host: bench",
      `source: { plugin: fs, paths: [${JSON.stringify(corpus.dir)}] }`,
      "compress: { plugin: zstd, level: 3 }",
      `encrypt: { plugin: age, recipients_file: ${JSON.stringify(ctx.keys.recipientsFile)} }`,
      "destinations:",
      ...destinations,
      "",
    ].join("\n"),
  );
}

/**
 * `sov run` to `destinations` local directories vs one run of baseline.sh. The warm-up archive
 * is extracted with stock tools and compared with the corpus in full (contents and metadata);
 * every timed archive must list the same members as the reference archive, and with two
 * destinations both copies must be the same bytes.
 */
export function backupScenario(name: string, title: string, corpus: Corpus, destinationCount: number, goals: Goals, ctx: BenchContext): Scenario {
  const dir = join(ctx.work, name);
  const config = join(dir, "config.yaml");
  const dests = Array.from({ length: destinationCount }, (_, i) => join(dir, `dest${i + 1}`));
  const refOut = join(dir, "ref", "baseline.tar.zst.age");
  let expected: string[] | null = null;
  const refFsyncS: number[] = [];
  return {
    name,
    title,
    checks:
      "the warm-up archive is extracted with age | zstd | tar and compared with the corpus in full; every archive must list " +
      `the reference's members${destinationCount > 1 ? "; all copies must be byte-identical" : ""}`,
    corpus,
    goals,
    refFsyncS,
    setup() {
      rmSync(dir, { recursive: true, force: true });
      writeRunConfig(config, corpus, ctx, localDestinations(dests));
      mkdirSync(join(dir, "ref"), { recursive: true });
    },
    sovArgs: () => ["run", "--config", config],
    ref: () => ({ label: `baseline.sh (${name})`, argv: ["bash", BASELINE, corpus.dir, ctx.keys.recipient, refOut] }),
    afterSov(run) {
      const archives = dests.map(onlyArchive);
      const first = archives[0]!;
      for (const other of archives.slice(1)) sameBytes(first, other);
      if (run === 0) restoresExactly(first, ctx.keys.identity, corpus.dir, join(dir, "extract"));
      if (!expected) throw new CheckFailed(`${name}: no reference listing to compare with (the reference runs first)`);
      sameList(listArchive(first, ctx.keys.identity), expected, `${first} (sov, run ${run})`);
      for (const d of dests) rmSync(d, { recursive: true, force: true });
    },
    afterRef(run) {
      const started = process.hrtime.bigint();
      if (spawnSync("sync", [refOut]).status !== 0) throw new CheckFailed(`sync ${refOut} failed`);
      if (run > 0) refFsyncS.push(Number(process.hrtime.bigint() - started) / 1e9);
      if (run === 0) expected = listArchive(refOut, ctx.keys.identity);
      rmSync(refOut, { force: true });
    },
  };
}

/** One sov archive of `corpus`, checked in full, shared by the restore scenarios of that corpus. */
export function makeInputArchive(corpus: Corpus, ctx: BenchContext): string {
  const dir = join(ctx.work, `input-${basename(corpus.dir)}`);
  rmSync(dir, { recursive: true, force: true });
  const config = join(dir, "config.yaml");
  const dest = join(dir, "archive");
  writeRunConfig(config, corpus, ctx, localDestinations([dest]));
  runSov(["run", "--quiet", "--config", config], ctx, "ok", "making the input archive");
  const archive = onlyArchive(dest);
  restoresExactly(archive, ctx.keys.identity, corpus.dir, join(dir, "extract"));
  return archive;
}

/** How this build of `sov restore` is called, from its --help; probeRestoreCli gives a reason instead when it cannot be. */
export interface RestoreCli {
  verify(archive: string, identity: string): string[];
  restore(archive: string, target: string, identity: string): string[];
}

export function probeRestoreCli(ctx: BenchContext): RestoreCli | string {
  const res = spawnSync(process.execPath, [SOV_BIN, "restore", "--help"], { env: { ...process.env, ...ctx.sovEnv }, encoding: "utf8" });
  const help = `${res.stdout}${res.stderr}`;
  if (res.status !== 0) return `\`sov restore --help\` exited ${res.status}: ${help.trim().split("\n")[0]}`;
  if (!help.includes("--verify")) return "`sov restore --help` shows no --verify";
  const identityFlag = help.includes("--identity") ? "--identity" : /(^|\s)-i[\s,]/.test(help) ? "-i" : null;
  if (!identityFlag) return "`sov restore --help` shows no --identity flag";
  return {
    verify: (archive, identity) => ["restore", "--verify", archive, identityFlag, identity],
    restore: (archive, target, identity) => ["restore", archive, target, identityFlag, identity],
  };
}

/** A copy of `archive` with one byte flipped in the middle: `sov restore --verify` must reject it. */
function corruptCopy(archive: string, copy: string): void {
  copyFileSync(archive, copy);
  const fd = openSync(copy, "r+");
  try {
    const at = Math.floor(fstatSync(fd).size / 2);
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, at);
    b[0] = b[0]! ^ 0xff;
    writeSync(fd, b, 0, 1, at);
  } finally {
    closeSync(fd);
  }
}

/** `sov restore --verify` vs `age -d | zstd -d | tar -t`; a corrupted copy must fail first. */
export function verifyScenario(name: string, corpus: Corpus, input: () => string, cli: RestoreCli, ctx: BenchContext): Scenario {
  const dir = join(ctx.work, name);
  let archive = "";
  return {
    name,
    title: "sov restore --verify  vs  age -d | zstd -d | tar -t",
    checks: "the input archive restores exactly (age | zstd | tar); a copy with one flipped byte must fail sov's verify",
    corpus,
    goals: { wallRatio: 1.0, loopMs: 100 },
    setup() {
      archive = input();
      rmSync(dir, { recursive: true, force: true });
      mkdirSync(dir, { recursive: true });
      const bad = join(dir, "corrupted.tar.zst.age");
      corruptCopy(archive, bad);
      runSov(cli.verify(bad, ctx.keys.identity), ctx, "fail", `a copy with a flipped byte (${bad})`);
      rmSync(bad);
    },
    sovArgs: () => cli.verify(archive, ctx.keys.identity),
    ref: () => bashCommand("age | zstd | tar -t", `age -d -i ${q(ctx.keys.identity)} ${q(archive)} | zstd -d -c | tar -t > /dev/null`),
    afterSov() {},
    afterRef() {},
  };
}

/** `sov restore FILE TARGET` vs `age -d | zstd -d | tar -x`; every sov restore is compared with the corpus. */
export function restoreScenario(name: string, corpus: Corpus, input: () => string, cli: RestoreCli, goals: Goals, ctx: BenchContext): Scenario {
  const scratch = new ScratchFilesystem(join(ctx.work, name), { bytes: corpus.bytes, entries: corpus.files + 1000 });
  let archive = "";
  return {
    name,
    title: "sov restore FILE TARGET  vs  age -d | zstd -d | tar -x",
    checks: `every tree sov restores, and the reference's warm-up tree, is compared with the corpus in full; ${scratchNote(scratch)}`,
    corpus,
    goals,
    setup() {
      archive = input();
      scratch.fresh();
    },
    sovArgs: () => cli.restore(archive, scratch.target, ctx.keys.identity),
    ref: () => bashCommand("age | zstd | tar -x", `age -d -i ${q(ctx.keys.identity)} ${q(archive)} | zstd -d -c | tar -x -C ${q(scratch.target)}`),
    afterSov(run) {
      sameTree(corpus.dir, scratch.target, `sov restore (run ${run})`);
      scratch.fresh();
    },
    afterRef(run) {
      if (run === 0) sameTree(corpus.dir, scratch.target, "age | zstd | tar -x (warm-up)");
      scratch.fresh();
    },
    teardown: () => scratch.release(),
  };
}

/**
 * `sov restore` of an archive of a million empty files (empty-entries.ts) vs `age -d | zstd -d |
 * tar -x`: what it checks is sov's peak RSS, which must not grow with the entry count.
 */
export function emptyEntriesRestoreScenario(corpus: Corpus, input: () => string, cli: RestoreCli, ctx: BenchContext): Scenario {
  const scratch = new ScratchFilesystem(join(ctx.work, "empty-restore"), { bytes: 0, entries: corpus.files + 1000 });
  let archive = "";
  return {
    name: "empty-restore",
    title: "sov restore of empty entries  vs  age -d | zstd -d | tar -x",
    checks: `every restore (sov's and the reference's) must hold all ${corpus.files.toLocaleString("en-US")} entries as regular files; ${scratchNote(scratch)}`,
    corpus,
    goals: { wallRatio: 1.2, rssMiB: 200, loopMs: 100 },
    setup() {
      archive = input();
      scratch.fresh();
    },
    sovArgs: () => cli.restore(archive, scratch.target, ctx.keys.identity),
    ref: () => bashCommand("age | zstd | tar -x", `age -d -i ${q(ctx.keys.identity)} ${q(archive)} | zstd -d -c | tar -x -C ${q(scratch.target)}`),
    afterSov(run) {
      checkEmptyEntries(scratch.target, corpus.files, `sov restore (run ${run})`);
      scratch.fresh();
    },
    afterRef(run) {
      if (run === 0) checkEmptyEntries(scratch.target, corpus.files, "age | zstd | tar -x (warm-up)");
      scratch.fresh();
    },
    teardown: () => scratch.release(),
  };
}

/** How the restores' targets are made, for the scenario's "checks" line. */
function scratchNote(scratch: ScratchFilesystem): string {
  return scratch.fallback
    ? `every run restores into a new directory on the bench's disk (${scratch.fallback}: no fresh file system per run, so a run may pay for the previous run's deletions)`
    : "every run restores into a fresh ext4 file system on a loop device";
}
