/**
 * `npm run bench [-- --size 1G] [--small-files 200000] [--runs 3] [--scenario NAME]... [--keep] [--profile]`
 *
 * Times sov against the stock-tool pipeline it replaces, side by side: one untimed warm-up of
 * each, then sov and the reference alternately (s, r, s, r, ...), page cache warm, outputs
 * dropped and synced between runs. Every archive sov produced is checked with age | zstd | tar
 * before a figure is printed. A script that prints figures, never a test with a time limit.
 * See BENCH.md beside this file.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { availableParallelism, loadavg, release, totalmem } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { hasTool, REPO, SOV_NODE_ENV } from "../helpers.js";
import { ensureCorpus, ensureKeypair, parseSize, type Corpus } from "./corpus.js";
import { offsiteScenario, s3FromEnv } from "./offsite.js";
import { seekFilesScenario, seekRestoreScenario } from "./seek.js";
import { emptyEntriesCorpus, ensureEmptyEntriesArchive } from "./empty-entries.js";
import { unmountLeftovers } from "./scratch-fs.js";
import { GNU_TIME, measure, spread, type Sample, type Spread } from "./measure.js";
import { formatProfile, readProfiles } from "./profile.js";
import {
  backupScenario,
  makeInputArchive,
  probeRestoreCli,
  emptyEntriesRestoreScenario,
  restoreScenario,
  sovCommand,
  verifyScenario,
  type BenchContext,
  type Scenario,
} from "./scenarios.js";

const SCENARIOS = ["one-dest", "two-dest", "small-files", "verify", "restore", "small-verify", "small-restore", "empty-restore", "offsite", "seek-restore", "seek-files"] as const;
type ScenarioName = (typeof SCENARIOS)[number];

const USAGE = `usage: npm run bench -- [--size 1G] [--small-files 200000] [--empty-entries 1000000] [--runs 3] [--scenario NAME]... [--seed 1] [--keep] [--profile]
  scenarios: ${SCENARIOS.join(", ")} (default: all; offsite needs the S3 server of
             ../shared/services/ceph-s3.sh started and its variables exported, else it is skipped)
  --profile  run sov once per scenario (default one-dest) under --cpu-prof and print where the time goes
  --keep     keep ${join(REPO, ".bench/work")} (configs, logs, outputs) afterwards`;

interface ScenarioResult {
  name: string;
  title: string;
  corpus: string;
  /** Content bytes of the corpus, for CPU per GiB (0 for the empty entries). */
  corpusBytes: number;
  runs: number;
  sov: Sample[];
  ref: Sample[];
  /** Backup scenarios: `sync ARCHIVE` after each timed reference run (see Scenario.refFsyncS). */
  refFsyncS?: number[];
  error?: string;
  skipped?: string;
}

function parseCli() {
  const { values } = parseArgs({
    args: process.argv.slice(2),
    options: {
      size: { type: "string", default: "1G" },
      "small-files": { type: "string", default: "200000" },
      "empty-entries": { type: "string", default: "1000000" },
      runs: { type: "string", default: "3" },
      seed: { type: "string", default: "1" },
      scenario: { type: "string", multiple: true },
      keep: { type: "boolean", default: false },
      profile: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  parseSize(values.size);
  const runs = Number(values.runs);
  const smallFiles = Number(values["small-files"]);
  const emptyEntries = Number(values["empty-entries"]);
  const seed = Number(values.seed);
  if (!Number.isInteger(runs) || runs < 1) throw new Error(`--runs ${values.runs}: expected a whole number of at least 1`);
  if (!Number.isInteger(smallFiles) || smallFiles < 1) throw new Error(`--small-files ${values["small-files"]}: expected a file count`);
  if (!Number.isInteger(emptyEntries) || emptyEntries < 1) throw new Error(`--empty-entries ${values["empty-entries"]}: expected an entry count`);
  if (!Number.isInteger(seed)) throw new Error(`--seed ${values.seed}: expected a whole number`);
  const unknown = (values.scenario ?? []).filter((s) => !(SCENARIOS as readonly string[]).includes(s));
  if (unknown.length) throw new Error(`unknown scenario ${unknown.join(", ")}; choose from ${SCENARIOS.join(", ")}`);
  const scenarios = (values.scenario?.length ? values.scenario : values.profile ? ["one-dest"] : [...SCENARIOS]) as ScenarioName[];
  return { size: values.size.toUpperCase(), smallFiles, emptyEntries, runs, seed, scenarios, keep: values.keep, profile: values.profile };
}

function requireTools(): void {
  const missing = ["age", "age-keygen", "zstd", "tar", "bash", "diff", "find", "cmp", "sha256sum"].filter((t) => !hasTool(t));
  if (spawnSync(GNU_TIME, ["--version"], { stdio: "ignore" }).status !== 0) missing.push(`${GNU_TIME} (apt-get install time)`);
  if (missing.length) throw new Error(`the benchmark needs ${missing.join(", ")}`);
}

function firstLine(cmd: string, args: string[]): string {
  const res = spawnSync(cmd, args, { encoding: "utf8" });
  return `${res.stdout}${res.stderr}`.trim().split("\n")[0] ?? "?";
}

function machine(benchDir: string): string[] {
  const cpuinfo = readFileSync("/proc/cpuinfo", "utf8");
  const model = /^model name\s*:\s*(.+)$/m.exec(cpuinfo)?.[1] ?? "unknown CPU";
  const fs = spawnSync("df", ["--output=fstype,source", benchDir], { encoding: "utf8" }).stdout.trim().split("\n")[1]?.trim().replace(/\s+/, " ");
  // Read-only git: no optional locks, so the index is never refreshed or written.
  const git = (args: string[]) => spawnSync("git", args, { cwd: REPO, encoding: "utf8", env: { ...process.env, GIT_OPTIONAL_LOCKS: "0" } }).stdout?.trim() ?? "";
  const changed = git(["status", "--porcelain"]).split("\n").filter(Boolean).length;
  return [
    `tree: ${REPO} at ${git(["rev-parse", "--short", "HEAD"]) || "?"}${changed ? ` + ${changed} uncommitted change(s)` : ""}`,
    `machine: ${availableParallelism()} CPUs (${model}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB RAM, Linux ${release()}, .bench on ${fs ?? "?"}`,
    `software: node ${process.version}, age ${firstLine("age", ["--version"]).replace(/^v/, "")}, zstd ${/v[\d.]+/.exec(firstLine("zstd", ["--version"]))?.[0] ?? "?"}, ${firstLine("tar", ["--version"])}`,
    `date: ${new Date().toISOString()}, load average at start ${loadavg().map((l) => l.toFixed(2)).join(" ")}`,
  ];
}

const f2 = (n: number) => (Number.isFinite(n) ? n.toFixed(2) : "–");
const f0 = (n: number) => (Number.isFinite(n) ? n.toFixed(0) : "–");
const range = (s: Spread, fmt: (n: number) => string) => (Number.isFinite(s.median) ? `${fmt(s.median)} (${fmt(s.min)}–${fmt(s.max)})` : "–");
const seconds = (n: number) => (Number.isFinite(n) ? `${f2(n)} s` : "–");
const ratio = (a: number, b: number) => (b > 0 && Number.isFinite(a) ? `${(a / b).toFixed(2)}x` : "–");

/** CPU seconds per GiB of corpus content: what a change to the hot path moves; NaN without content. */
const perGiB = (cpuS: number, bytes: number) => (bytes > 0 ? cpuS / (bytes / 2 ** 30) : NaN);

function figures(samples: Sample[], corpusBytes: number) {
  return {
    wall: spread(samples.map((s) => s.wallS)),
    cpu: spread(samples.map((s) => s.cpuS)),
    cpuPerGiB: spread(samples.map((s) => perGiB(s.cpuS, corpusBytes))),
    rss: spread(samples.map((s) => s.rssMiB)),
    loopMax: samples.some((s) => s.loop) ? Math.max(...samples.map((s) => s.loop?.maxMs ?? 0)) : NaN,
  };
}

function sampleLine(s: Sample): string {
  const stall = s.loop?.worst[0];
  const loop = s.loop ? `, loop max ${f0(s.loop.maxMs)} ms${stall ? ` @${stall.atS.toFixed(2)}s` : ""}` : "";
  return `${f2(s.wallS)} s wall, ${f2(s.cpuS)} s CPU, ${f0(s.rssMiB)} MiB${loop}`;
}

/** The machine is shared: the 1-minute load average before each run says how noisy it was. */
const load = () => `load ${loadavg()[0]!.toFixed(1)}`;

/** The verdict on each of the scenario's goals, e.g. `wall ≤ 1.00x: met (0.97x)`. */
function verdicts(scenario: Scenario, r: ScenarioResult): string[] {
  const s = figures(r.sov, r.corpusBytes);
  const ref = figures(r.ref, r.corpusBytes);
  const out: string[] = [];
  const wr = s.wall.median / ref.wall.median;
  out.push(`wall ≤ ${scenario.goals.wallRatio.toFixed(2)}x: ${wr <= scenario.goals.wallRatio ? "met" : "MISSED"} (${wr.toFixed(2)}x)`);
  if (scenario.goals.wallS !== undefined) {
    out.push(`wall ≤ ${scenario.goals.wallS} s: ${s.wall.median <= scenario.goals.wallS ? "met" : "MISSED"} (${s.wall.median.toFixed(2)} s)`);
  }
  if (scenario.goals.cpuRatio !== undefined) {
    const cr = s.cpu.median / ref.cpu.median;
    out.push(`CPU ≤ ${scenario.goals.cpuRatio.toFixed(2)}x: ${cr <= scenario.goals.cpuRatio ? "met" : "MISSED"} (${cr.toFixed(2)}x)`);
  }
  if (scenario.goals.rssMiB !== undefined) {
    out.push(`peak RSS ≤ ${scenario.goals.rssMiB} MiB: ${s.rss.max <= scenario.goals.rssMiB ? "met" : "MISSED"} (max ${f0(s.rss.max)} MiB)`);
  }
  if (scenario.goals.loopMs !== undefined && Number.isFinite(s.loopMax)) {
    out.push(`event-loop block ≤ ${scenario.goals.loopMs} ms: ${s.loopMax <= scenario.goals.loopMs ? "met" : "MISSED"} (max ${f0(s.loopMax)} ms)`);
  }
  return out;
}

function printScenario(scenario: Scenario, r: ScenarioResult): void {
  const s = figures(r.sov, r.corpusBytes);
  const ref = figures(r.ref, r.corpusBytes);
  const col = (a: string, b: string, c: string, d: string, e: string) => `${a.padEnd(28)}${b.padEnd(24)}${c.padEnd(24)}${d.padEnd(20)}${e}`;
  console.log(`   ${"".padEnd(12)}${col("wall s, median (min–max)", "CPU s (user+sys)", "CPU s per GiB", "peak RSS MiB", "event loop max block")}`);
  console.log(
    `   ${"sov".padEnd(12)}${col(range(s.wall, f2), range(s.cpu, f2), range(s.cpuPerGiB, f2), range(s.rss, f0), Number.isFinite(s.loopMax) ? `${f0(s.loopMax)} ms` : "–")}`,
  );
  console.log(`   ${"reference".padEnd(12)}${col(range(ref.wall, f2), range(ref.cpu, f2), range(ref.cpuPerGiB, f2), range(ref.rss, f0), "")}`);
  console.log(
    `   ${"sov/ref".padEnd(12)}${col(ratio(s.wall.median, ref.wall.median), ratio(s.cpu.median, ref.cpu.median), ratio(s.cpuPerGiB.median, ref.cpuPerGiB.median), ratio(s.rss.median, ref.rss.median), "")}`,
  );
  if (r.refFsyncS?.length) {
    const fsync = spread(r.refFsyncS);
    const withFsync = spread(r.ref.map((x, i) => x.wallS + (r.refFsyncS![i] ?? 0)));
    console.log(
      `   baseline.sh does not fsync; \`sync ARCHIVE\` right after it took ${range(fsync, f2)} s. ` +
        `Reference + fsync: ${f2(withFsync.median)} s; sov/(reference + fsync) ${ratio(s.wall.median, withFsync.median)}`,
    );
  }
  const peak = r.sov.reduce<Sample | undefined>((a, b) => (a && a.rssMiB >= b.rssMiB ? a : b), undefined)?.loop?.memory;
  if (peak) {
    console.log(
      `   sov memory near its peak (run with the highest RSS, sampled at ${peak.atS.toFixed(1)} s): RSS ${f0(peak.rss)} MiB = ` +
        `JS heap ${f0(peak.heapTotal)} + Buffers ${f0(peak.arrayBuffers)} + native/other ${f0(peak.other)}`,
    );
  }
  console.log(`   goals: ${verdicts(scenario, r).join(" · ")}`);
}

async function runScenario(scenario: Scenario, runs: number, ctx: BenchContext): Promise<ScenarioResult> {
  const logDir = join(ctx.work, "logs");
  const result: ScenarioResult = { name: scenario.name, title: scenario.title, corpus: scenario.corpus.describe, corpusBytes: scenario.corpus.bytes, runs, sov: [], ref: [] };
  console.log(`\n== ${scenario.name}: ${scenario.title}`);
  console.log(`   ${scenario.corpus.describe}; ${runs} paired run(s) after one untimed warm-up of each`);
  console.log(`   checks: ${scenario.checks}`);
  scenario.setup();
  const dropAndSync = (after: () => void) => {
    after();
    execFileSync("sync"); // the previous run's dirty pages must not be flushed during the next one
  };
  // Warm-up: the reference first, so its listing is there to check sov's archive against.
  const warmRef = await measure(scenario.ref(), logDir, `${scenario.name}-ref-0`);
  dropAndSync(() => scenario.afterRef(0));
  const warmSov = await measure(sovCommand(scenario.sovArgs(), ctx), logDir, `${scenario.name}-sov-0`);
  dropAndSync(() => scenario.afterSov(0));
  console.log(`   warm-up    sov ${sampleLine(warmSov)} | ref ${sampleLine(warmRef)}`);
  for (let i = 1; i <= runs; i++) {
    const loadBefore = load();
    const s = await measure(sovCommand(scenario.sovArgs(), ctx), logDir, `${scenario.name}-sov-${i}`);
    dropAndSync(() => scenario.afterSov(i));
    const r = await measure(scenario.ref(), logDir, `${scenario.name}-ref-${i}`);
    dropAndSync(() => scenario.afterRef(i));
    result.sov.push(s);
    result.ref.push(r);
    console.log(`   run ${i}/${runs}    sov ${sampleLine(s)} | ref ${sampleLine(r)}  (${loadBefore})`);
  }
  if (scenario.refFsyncS?.length) result.refFsyncS = [...scenario.refFsyncS];
  printScenario(scenario, result);
  return result;
}

function markdownTable(results: ScenarioResult[], scenarios: Map<string, Scenario>): string[] {
  const lines = [
    "| scenario | sov wall (median) | ref wall (median) | sov/ref | goal | sov/(ref + fsync) | sov CPU | ref CPU | CPU sov/ref | sov CPU per GiB | ref CPU per GiB | sov peak RSS | ref peak RSS | max event-loop block |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
  ];
  for (const r of results) {
    if (r.skipped || r.error) {
      lines.push(`| ${r.name} | ${r.skipped ? `skipped: ${r.skipped}` : `FAILED: ${r.error!.split("\n")[0]}`} | | | | | | | | | | | | |`);
      continue;
    }
    const s = figures(r.sov, r.corpusBytes);
    const ref = figures(r.ref, r.corpusBytes);
    const goal = scenarios.get(r.name)!.goals.wallRatio;
    const met = s.wall.median / ref.wall.median <= goal ? "met" : "missed";
    const withFsync = r.refFsyncS?.length ? ratio(s.wall.median, spread(r.ref.map((x, i) => x.wallS + (r.refFsyncS![i] ?? 0))).median) : "–";
    lines.push(
      `| ${r.name} | ${f2(s.wall.median)} s | ${f2(ref.wall.median)} s | ${ratio(s.wall.median, ref.wall.median)} | ≤ ${goal.toFixed(1)}x, ${met} | ${withFsync} | ` +
        `${f2(s.cpu.median)} s | ${f2(ref.cpu.median)} s | ${ratio(s.cpu.median, ref.cpu.median)} | ${seconds(s.cpuPerGiB.median)} | ${seconds(ref.cpuPerGiB.median)} | ${f0(s.rss.median)} MiB | ${f0(ref.rss.median)} MiB | ${Number.isFinite(s.loopMax) ? `${f0(s.loopMax)} ms` : "–"} |`,
    );
  }
  return lines;
}

async function profileScenario(scenario: Scenario, ctx: BenchContext, profileRoot: string): Promise<void> {
  console.log(`\n== profile ${scenario.name}: ${scenario.title}\n   ${scenario.corpus.describe}`);
  scenario.setup();
  // One reference run warms the page cache, gives the yardstick, and the listing sov's archive is checked against.
  const ref = await measure(scenario.ref(), join(ctx.work, "logs"), `${scenario.name}-profile-ref`);
  scenario.afterRef(0);
  const dir = join(profileRoot, `${scenario.name}-${new Date().toISOString().replace(/[:.]/g, "-")}`);
  mkdirSync(dir, { recursive: true });
  const s = await measure(sovCommand(scenario.sovArgs(), ctx, { kind: "profile", dir }), join(ctx.work, "logs"), `${scenario.name}-profile-sov`);
  scenario.afterSov(0);
  console.log(`   sov under --cpu-prof: ${sampleLine(s)}   reference: ${sampleLine(ref)}`);
  console.log(`   (the profiler slows sov down; the split matters here, not the total)`);
  for (const p of readProfiles(dir, REPO)) console.log(formatProfile(p));
}

async function main(): Promise<number> {
  const opts = parseCli();
  requireTools();
  const benchDir = join(REPO, ".bench");
  const work = join(benchDir, "work");
  unmountLeftovers(work); // an interrupted run's scratch file systems
  rmSync(work, { recursive: true, force: true });
  mkdirSync(join(work, "logs"), { recursive: true, mode: 0o755 });
  const info = machine(benchDir);
  console.log(`sov benchmark: ${opts.profile ? "profile" : `${opts.runs} paired run(s)`}; scenarios ${opts.scenarios.join(", ")}`);
  for (const line of info) console.log(line);

  const keys = ensureKeypair(benchDir);
  const ctx: BenchContext = {
    work,
    keys,
    sovEnv: {
      ...SOV_NODE_ENV,
      SOVEREIGN_BACKUP_LOCKDIR: join(work, "lock"),
      SOVEREIGN_BACKUP_LOG: join(work, "sov.log"),
      SOVEREIGN_BACKUP_STATE_DIR: join(work, "state"),
      SOVEREIGN_BACKUP_CONFIG_DIR: join(work, "no-config-dir"),
    },
  };
  const needsMain = opts.scenarios.some((s) => ["one-dest", "two-dest", "verify", "restore", "offsite", "seek-restore"].includes(s));
  const mainCorpus: Corpus | null = needsMain ? ensureCorpus(benchDir, { kind: "size", size: opts.size, seed: opts.seed }) : null;
  const smallCorpus: Corpus | null = opts.scenarios.some((s) => s.startsWith("small-") || s === "seek-files")
    ? ensureCorpus(benchDir, { kind: "small", files: opts.smallFiles, seed: opts.seed })
    : null;
  const emptyCorpus = emptyEntriesCorpus(benchDir, opts.emptyEntries);

  const inputArchives = new Map<string, string>();
  const inputOf = (corpus: Corpus) => () => {
    if (!inputArchives.has(corpus.dir)) inputArchives.set(corpus.dir, makeInputArchive(corpus, ctx));
    return inputArchives.get(corpus.dir)!;
  };
  let emptyArchive: string | null = null;
  if (opts.scenarios.includes("empty-restore")) emptyArchive = await ensureEmptyEntriesArchive(benchDir, opts.emptyEntries, keys);
  const restoreCli = opts.scenarios.some((s) => s.endsWith("verify") || s.endsWith("restore")) ? probeRestoreCli(ctx) : null;

  const results: ScenarioResult[] = [];
  const built = new Map<string, Scenario>();
  for (const name of opts.scenarios) {
    let scenario: Scenario;
    switch (name) {
      case "one-dest":
        scenario = backupScenario(name, "sov run, one local destination  vs  baseline.sh (tar | zstd -T0 -3 | age)", mainCorpus!, 1, { wallRatio: 1.0, cpuRatio: 1.0, rssMiB: 200, loopMs: 100 }, ctx);
        break;
      case "two-dest":
        scenario = backupScenario(name, "sov run, two local destinations (same disk)  vs  one baseline.sh run", mainCorpus!, 2, { wallRatio: 1.05, rssMiB: 200, loopMs: 100 }, ctx);
        break;
      case "small-files":
        scenario = backupScenario(name, "sov run, many small files, one local destination  vs  baseline.sh", smallCorpus!, 1, { wallRatio: 1.0, rssMiB: 200, loopMs: 100 }, ctx);
        break;
      case "offsite": {
        const s3 = s3FromEnv();
        if (typeof s3 === "string") {
          console.log(`\n== ${name}: skipped: ${s3}`);
          results.push({ name, title: name, corpus: mainCorpus!.describe, corpusBytes: mainCorpus!.bytes, runs: 0, sov: [], ref: [], skipped: s3 });
          continue;
        }
        scenario = offsiteScenario(mainCorpus!, inputOf(mainCorpus!), s3, ctx);
        break;
      }
      case "seek-restore":
        scenario = seekRestoreScenario(mainCorpus!, inputOf(mainCorpus!), ctx);
        break;
      case "seek-files":
        scenario = seekFilesScenario(smallCorpus!, inputOf(smallCorpus!), ctx);
        break;
      case "verify":
      case "restore":
      case "small-verify":
      case "small-restore":
      case "empty-restore": {
        const corpus = name === "empty-restore" ? emptyCorpus : name.startsWith("small-") ? smallCorpus! : mainCorpus!;
        if (typeof restoreCli === "string" || !restoreCli) {
          const reason = `sov restore is not available yet (${restoreCli ?? "not probed"})`;
          console.log(`\n== ${name}: skipped: ${reason}`);
          results.push({ name, title: name, corpus: corpus.describe, corpusBytes: corpus.bytes, runs: 0, sov: [], ref: [], skipped: reason });
          continue;
        }
        if (name === "empty-restore") scenario = emptyEntriesRestoreScenario(corpus, () => emptyArchive!, restoreCli, ctx);
        else if (name.endsWith("verify")) scenario = verifyScenario(name, corpus, inputOf(corpus), restoreCli, ctx);
        // the issue's goal for many small files: within 1.2x of GNU tar; for large files restore must not lose to it
        else scenario = restoreScenario(name, corpus, inputOf(corpus), restoreCli, { wallRatio: name === "restore" ? 1.0 : 1.2, loopMs: 100 }, ctx);
        break;
      }
    }
    built.set(name, scenario);
    try {
      if (opts.profile) await profileScenario(scenario, ctx, join(benchDir, "profiles"));
      else results.push(await runScenario(scenario, opts.runs, ctx));
    } catch (err) {
      const message = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      console.log(`\n!! ${name} FAILED, no figures reported for it:\n${message}`);
      results.push({ name, title: scenario.title, corpus: scenario.corpus.describe, corpusBytes: scenario.corpus.bytes, runs: 0, sov: [], ref: [], error: message });
    } finally {
      scenario.teardown?.();
    }
  }

  if (!opts.profile) {
    console.log(`\n## Latest figures (medians of ${opts.runs} paired runs; corpus ${mainCorpus?.describe ?? ""}${smallCorpus ? `; ${smallCorpus.describe}` : ""})\n`);
    for (const line of markdownTable(results, built)) console.log(line);
    console.log("");
    for (const line of info) console.log(line);
    const file = join(benchDir, `results-${new Date().toISOString().replace(/[:.]/g, "-")}.json`);
    writeFileSync(file, `${JSON.stringify({ machine: info, options: opts, results }, null, 2)}\n`);
    console.log(`raw samples: ${file}`);
  }
  if (!opts.keep) rmSync(work, { recursive: true, force: true });
  else console.log(`kept ${work} (configs, logs under logs/, outputs)`);
  return results.some((r) => r.error) ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(`bench: ${err instanceof Error ? err.message : String(err)}\n${USAGE}`);
    process.exitCode = 2;
  },
);
