import { pipeline } from "node:stream/promises";
import type { Transform } from "node:stream";
import { archiveName, parseArchiveName } from "./archive-name.js";
import { buildChain, selectDestinations, type Chain } from "./chain.js";
import { loadConfig, type SovConfig } from "./config/load.js";
import { ExitCode, RunError, errorMessage } from "./errors.js";
import { Fanout, type FanoutTarget } from "./fanout.js";
import { createArchiveCompressStream } from "./seekable.js";
import { tapCoreHooks } from "./core-taps.js";
import { runHookFile } from "./hook-runner.js";
import { acquireLock, DEFAULT_LOCK_DIR, type RunLock } from "./lock.js";
import type { Logger } from "./log.js";
import { pathsToLeaveOut } from "./leave-out.js";
import type { ArchiveRef, Destination, LeftOutPath, RunInfo, SourceStats, StagedWrite } from "./plugin.js";
import { judgeRetention, lockedPast } from "./retention.js";
import { formatBytes } from "./format.js";
import { checkTrustedFile } from "./trusted-path.js";

export interface RunOptions {
  configPath?: string | undefined;
  /** `--target`: destination names, or `both`. Empty means every configured destination. */
  targets?: string[] | undefined;
  dryRun?: boolean;
  /** `--once`: skip the lock, for a deliberate manual run beside a running timer. */
  once?: boolean;
  env?: NodeJS.ProcessEnv;
  log: Logger;
  /** Fires on SIGINT/SIGTERM/SIGHUP: the run aborts its writes and exits 1. */
  signal?: AbortSignal;
  /** Files of the command line's (log, state) that no source may archive, besides the core's own. */
  cliFiles?: readonly LeftOutPath[];
  /** For tests: a config already parsed. */
  config?: SovConfig;
  /** With --dry-run: list every path the source would include, and why others are left out. */
  verbose?: boolean;
  /** Progress while reading: called as the stream starts with the live counters; returns a stop function. */
  progress?: ((stats: SourceStats) => () => void) | undefined;
}

export interface DestinationOutcome {
  readonly destination: string;
  readonly archive?: ArchiveRef;
  readonly error?: string;
}

export interface RunResult {
  readonly exitCode: number;
  readonly host: string;
  readonly startedAt: Date;
  readonly finishedAt: Date;
  readonly dryRun: boolean;
  readonly destinations: DestinationOutcome[];
  readonly stats: SourceStats;
  readonly pruned: ArchiveRef[];
  /** This host's archives per destination after prune, where the run could list them. */
  readonly archiveCounts: Record<string, number>;
  readonly warnings: string[];
  readonly error?: string;
}

interface ActiveDestination {
  readonly name: string;
  readonly destination: Destination;
  staged?: StagedWrite;
  target?: FanoutTarget;
  archive?: ArchiveRef;
  error?: string;
}

/**
 * `sov run`: config, chain and hooks checked (exit 2) before the lock (exit 10), then pre_hook,
 * one read of the sources through compress and encrypt into a staged write per destination,
 * commits only after a clean pipeline, prune only after a fully successful run, post_hook if
 * anything committed (before the destinations are closed).
 */
export async function runBackup(opts: RunOptions): Promise<RunResult> {
  const { log } = opts;
  const env = opts.env ?? process.env;
  const startedAt = new Date();
  const controller = new AbortController();
  const onAbort = () => controller.abort(opts.signal?.reason);
  // A signal while the CLI loaded the config has fired already: no event would come.
  if (opts.signal?.aborted) onAbort();
  else opts.signal?.addEventListener("abort", onAbort, { once: true });
  const run: RunInfo = { host: "", startedAt, dryRun: !!opts.dryRun, signal: controller.signal };

  const config = opts.config ?? (await loadConfig({ configPath: opts.configPath, env, log }));
  (run as { host: string }).host = config.host;
  (run as { leaveOut?: readonly LeftOutPath[] }).leaveOut = await pathsToLeaveOut(config, env, log, opts.cliFiles);
  const selected = selectDestinations(config, opts.targets);
  for (const [key, path] of [["pre_hook", config.hooks.pre], ["post_hook", config.hooks.post], ["failure_hook", config.hooks.failure]] as const) {
    if (path) await checkTrustedFile(path, key, { executable: true });
  }
  const chain = await buildChain(config, selected, run, log, env);
  const name = archiveName(config.host, startedAt, chain.compressor?.extension || null, chain.encryptor.extension);

  if (opts.dryRun) {
    for (const line of describeRun(chain, name)) log.info(line);
    for (const line of await previewRetention(chain, name, startedAt)) log.info(line);
    if (opts.verbose) await previewSelection(chain, run.signal, log);
    return result(config, startedAt, true, [], chain.source.stats, [], {}, log, ExitCode.ok);
  }

  if (run.signal.aborted) throw new RunError("interrupted by a signal while the config was loaded; nothing was read or written");
  const lock = opts.once ? null : await acquireLock(env.SOVEREIGN_BACKUP_LOCKDIR || DEFAULT_LOCK_DIR, log);
  if (lock) (run as { lockedAt?: Date }).lockedAt = new Date();
  try {
    return await runLocked(chain, name, run, controller, log, opts.progress);
  } finally {
    opts.signal?.removeEventListener("abort", onAbort);
    await lock?.release();
  }
}

async function runLocked(
  chain: Chain,
  name: string,
  run: RunInfo,
  controller: AbortController,
  log: Logger,
  progress: RunOptions["progress"],
): Promise<RunResult> {
  const { config } = chain;
  const stats = chain.source.stats;
  /** The run's facts for hooks, so a hook can report or page without parsing logs. */
  const hookEnv = (status: string, active: ActiveDestination[] = [], error?: string) => ({
    SOV_HOST: config.host,
    SOV_STATUS: status,
    SOV_CONFIG: config.file,
    SOV_ARCHIVE_NAME: name,
    SOV_ARCHIVES: active.flatMap((a) => (a.archive ? [a.archive.location] : [])).join("\n"),
    SOV_FAILED_DESTINATIONS: active.filter((a) => !a.archive).map((a) => a.name).join(" "),
    SOV_BYTES_READ: String(stats.bytes),
    SOV_FILES_READ: String(stats.files),
    SOV_BYTES_WRITTEN: String(active.reduce((n, a) => n + (a.archive?.size ?? 0), 0)),
    SOV_ERROR: error ?? "",
  });
  const finish = async (active: ActiveDestination[], pruned: ArchiveRef[], counts: Record<string, number>, error?: string): Promise<RunResult> => {
    const ok = !error;
    if (!ok && config.hooks.failure) {
      log.info(`running failure_hook ${config.hooks.failure}`);
      const code = await runHookFile(config.hooks.failure, hookEnv("failed", active, error), log.child("failure_hook"));
      if (code !== 0) log.warn(`failure_hook ${config.hooks.failure} exited ${code}`);
    }
    const outcomes = active.map((a): DestinationOutcome => ({
      destination: a.name,
      ...(a.archive ? { archive: a.archive } : {}),
      ...(a.error ? { error: a.error } : {}),
    }));
    return result(config, run.startedAt, false, outcomes, stats, pruned, counts, log, ok ? ExitCode.ok : ExitCode.failed, error);
  };

  tapCoreHooks(chain, hookEnv("pre"), log);
  const notStarted = await runPreHooks(chain, run, log);
  if (notStarted) return finish([], [], {}, notStarted);

  const active: ActiveDestination[] = chain.destinations.map(({ destination }) => ({ name: destination.name, destination }));
  const opened: ActiveDestination[] = [];
  let pipelineError: string | undefined;
  let pruned: ArchiveRef[] = [];
  const counts: Record<string, number> = {};
  let committed: ActiveDestination[] = [];
  let ok = false;
  try {
    for (const a of active) {
      try {
        await a.destination.open();
        opened.push(a);
        a.staged = await a.destination.stage(name);
      } catch (err) {
        a.error = errorMessage(err);
        log.error(`destination ${a.name}: ${a.error}`);
      }
    }
    const writing = active.filter((a) => a.staged);
    if (writing.length === 0) {
      pipelineError = "no destination could be opened; nothing was read";
    } else {
      const stopProgress = progress ? progress(stats) : () => {};
      let written: { sha256: string; size: number } | null = null;
      try {
        ({ error: pipelineError, written } = await streamArchive(chain, writing, controller, log));
      } finally {
        stopProgress();
      }
      await settle(writing, pipelineError, written, log);
    }
    committed = active.filter((a) => a.archive);
    if (!pipelineError && committed.length === active.length) {
      pruned = await prune(chain, committed, run, log);
    } else if (committed.length > 0) {
      log.warn("not pruning: the run did not succeed everywhere");
    }
    for (const a of committed) {
      const mine = await a.destination.list().catch(() => null);
      if (mine) counts[a.name] = mine.filter((r) => parseArchiveName(r.name)?.host === config.host).length;
    }
    // Before the destinations close: SOV_ARCHIVES must name files a hook can still read (a
    // stick is unmounted at close).
    ok = !pipelineError && committed.length === active.length;
    if (committed.length > 0) await runPostHook(config, hookEnv(ok ? "ok" : "partial", active), log);
  } finally {
    for (const a of opened.reverse()) {
      await a.destination.close().catch((err) => log.warn(`destination ${a.name}: close failed: ${errorMessage(err)}`));
    }
  }
  return finish(active, pruned, counts, pipelineError ?? (ok ? undefined : "not every destination committed"));
}

/** post_hook, after every commit and prune, while the destinations are still open. */
async function runPostHook(config: SovConfig, env: Record<string, string>, log: Logger): Promise<void> {
  if (!config.hooks.post) return;
  log.info(`running post_hook ${config.hooks.post}`);
  const code = await runHookFile(config.hooks.post, env, log.child("post_hook"));
  if (code !== 0) log.warn(`post_hook ${config.hooks.post} exited ${code}`);
}

/** Source → compress → encrypt → every staged write. Returns why it failed, or the checksum and size. */
async function streamArchive(
  chain: Chain,
  writing: ActiveDestination[],
  controller: AbortController,
  log: Logger,
): Promise<{ error?: string; written: { sha256: string; size: number } | null }> {
  const targets = writing.map((a) => (a.target = { name: a.name, writable: a.staged!.writable }));
  const fanout = new Fanout(targets, (target, err) => {
    const a = writing.find((w) => w.target === target)!;
    a.error = errorMessage(err);
    log.error(`destination ${a.name}: ${a.error}; the other destinations go on`);
  });
  try {
    // Everything that takes time to create comes first; the source opens last, in the same tick
    // as pipeline() attaches its error handlers. A signal during an earlier await would otherwise
    // make the source emit an 'error' nobody listens to yet, and crash the process with its
    // temporary files left behind (seen under load in CI).
    const encrypt = await chain.encryptor.createEncryptStream();
    const recycle = chain.source.recycle?.bind(chain.source);
    const compress = chain.compressor ? createArchiveCompressStream(chain.compressor, recycle) : undefined;
    if (controller.signal.aborted) {
      // not piped yet, so pipeline() will not destroy them: a compressor's threads would keep the process alive
      compress?.destroy();
      encrypt.destroy();
      controller.signal.throwIfAborted();
    }
    const stages: Array<NodeJS.ReadableStream | Transform | NodeJS.WritableStream> = [
      chain.source.open(controller.signal),
      ...(compress ? [compress] : []),
      encrypt,
      fanout,
    ];
    await pipeline(stages as unknown as Parameters<typeof pipeline>[0][], { signal: controller.signal } as never);
    return { written: fanout.sha256 ? { sha256: fanout.sha256, size: fanout.bytes } : null };
  } catch (err) {
    const interrupted = controller.signal.aborted;
    controller.abort(err);
    const reason = interrupted ? "interrupted by a signal" : errorMessage(err);
    log.error(`backup failed: ${reason}`);
    return { error: reason, written: null };
  }
}

/**
 * Commit every healthy staged write after a clean pipeline; abort all of them otherwise. The
 * core's checks run inside commit() and abort(): a destination that broke the storage contract
 * fails here with its plugin named, and so the run fails and does not prune.
 */
async function settle(writing: ActiveDestination[], pipelineError: string | undefined, written: { sha256: string; size: number } | null, log: Logger): Promise<void> {
  for (const a of writing) {
    if (pipelineError || a.error) {
      a.error ??= pipelineError;
      await a.staged!.abort().catch((err) => {
        a.error = `abort failed: ${errorMessage(err)}`;
        log.error(`destination ${a.name}: ${a.error}`);
      });
      continue;
    }
    try {
      a.archive = await a.staged!.commit(written ?? undefined);
      log.info(`wrote ${a.archive.location} (${formatBytes(a.archive.size)})`);
    } catch (err) {
      a.error = `commit failed: ${errorMessage(err)}`;
      log.error(`destination ${a.name}: ${a.error}`);
    }
  }
}

/**
 * The preHook taps, the config's pre_hook script first (core-taps.ts). Resolves to why the run
 * must stop before anything is opened or read (a tap threw, a signal came), or undefined.
 */
async function runPreHooks(chain: Chain, run: RunInfo, log: Logger): Promise<string | undefined> {
  try {
    await chain.hooks.preHook.promise(run);
  } catch (err) {
    const error = errorMessage(err);
    log.error(error);
    return error;
  }
  if (run.signal.aborted) return "interrupted by a signal before anything was read";
  return undefined;
}

/** The prune taps: the core's retention first (core-taps.ts), then any plugin's. Never the archive just written. */
async function prune(chain: Chain, committed: ActiveDestination[], run: RunInfo, log: Logger): Promise<ArchiveRef[]> {
  const pruned: ArchiveRef[] = [];
  try {
    await chain.hooks.prune.promise({
      run,
      committed: committed.map((a) => ({ destination: a.destination, archive: a.archive! })),
      pruned,
    });
  } catch (err) {
    // Every archive is committed by now: a failed prune tap is worth a warning, not a failed run.
    log.warn(`prune: ${errorMessage(err)}`);
  }
  return pruned;
}

function result(
  config: SovConfig,
  startedAt: Date,
  dryRun: boolean,
  destinations: DestinationOutcome[],
  stats: SourceStats,
  pruned: ArchiveRef[],
  archiveCounts: Record<string, number>,
  log: Logger,
  exitCode: number,
  error?: string,
): RunResult {
  return {
    exitCode,
    host: config.host,
    startedAt,
    finishedAt: new Date(),
    dryRun,
    destinations,
    stats,
    pruned,
    archiveCounts,
    warnings: [...log.warnings],
    ...(error ? { error } : {}),
  };
}

/** `--dry-run --verbose`: what the source would include, and why each excluded path is out. */
async function previewSelection(chain: Chain, signal: AbortSignal, log: Logger): Promise<void> {
  if (!chain.source.preview) {
    log.info("selection: this source plugin cannot preview its selection");
    return;
  }
  let included = 0;
  let excluded = 0;
  log.info("selection:");
  for await (const d of chain.source.preview(signal)) {
    if (d.included) included++;
    else excluded++;
    log.info(d.included ? `  + ${d.path}` : `  - ${d.path} (${d.reason ?? "excluded"})`);
  }
  log.info(`selection: ${included} included, ${excluded} excluded`);
}

/**
 * What prune would do after this run, as if the new archive were already there: each archive
 * with why it stays or goes. Destinations that cannot be listed without opening (a stick that
 * would have to be mounted) are said to be skipped, never opened by a dry run.
 */
async function previewRetention(chain: Chain, name: string, now: Date): Promise<string[]> {
  const lines = ["retention (after this run):"];
  for (const { block, destination } of chain.destinations) {
    let listed: ArchiveRef[];
    try {
      listed = await destination.list();
    } catch {
      lines.push(`  ${block.name}: not listed (it would have to be opened or mounted)`);
      continue;
    }
    const incoming: ArchiveRef = { destination: block.name, name, location: "(this run)", size: 0 };
    // Prune skips what the store keeps locked (S3 Object Lock), whatever the rules say.
    const verdicts = judgeRetention([...listed, incoming], block.retention, chain.config.host, name, now).map((v) => {
      const locked = v.keep ? undefined : lockedPast(v.archive, now);
      return locked ? { ...v, keep: true, reasons: [...v.reasons, `locked until ${locked.toISOString()}`] } : v;
    });
    lines.push(`  ${block.name}: ${verdicts.filter((v) => !v.keep).length} would be removed, ${verdicts.filter((v) => v.keep).length} kept`);
    for (const v of verdicts) lines.push(`    ${v.keep ? "keep  " : "REMOVE"} ${v.archive.name}: ${v.reasons.join(", ")}`);
  }
  return lines;
}

/**
 * The plan, as `sov list` and `--dry-run` print it. `writtenByDefault` (for `sov list`, whose
 * chain holds every configured destination) marks which ones a plain `sov run` writes.
 */
export function describeRun(chain: Chain, name: string, writtenByDefault?: ReadonlySet<string>): string[] {
  const { config } = chain;
  const lines = [
    `config: ${config.file} (${config.format} format)`,
    `host: ${config.host}`,
    `archive: ${name}`,
    `source (${pluginOf(chain, "source")}):`,
    ...chain.source.describe().map((l) => `  ${l}`),
    `compress: ${chain.compressor ? `${pluginOf(chain, "compress")}: ${chain.compressor.describe().join(", ")}` : "none"}`,
    `encrypt (${pluginOf(chain, "encrypt")}):`,
    ...chain.encryptor.describe().map((l) => `  ${l}`),
    "destinations:",
  ];
  for (const { block, destination } of chain.destinations) {
    const when = !writtenByDefault ? "" : writtenByDefault.has(block.name) ? ", written by sov run" : `, only with --target ${block.name}`;
    lines.push(`  ${block.name} (${pluginOf(chain, "destination", block.name)}), retention ${describeRetention(block.retention)}${when}:`);
    lines.push(...destination.describe().map((l) => `    ${l}`));
  }
  lines.push(`pre_hook: ${config.hooks.pre ?? "none"}`, `post_hook: ${config.hooks.post ?? "none"}`);
  return lines;
}

function describeRetention(policy: Chain["destinations"][number]["block"]["retention"]): string {
  const rules = Object.entries(policy).filter(([k, v]) => v !== undefined && v !== 0 && !(k === "days" && v === 0));
  return rules.length ? rules.map(([k, v]) => `${k}=${v}`).join(" ") : "keep everything";
}

function pluginOf(chain: Chain, stage: string, instance?: string): string {
  const p = chain.plugins.find((x) => x.stage === stage && (!instance || x.instance === instance));
  return p ? p.name : "?";
}

