import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { hostname } from "node:os";
import { join } from "node:path";
import { ExitCode, SovError, errorMessage, createLogger, type Logger, describeRun, runBackup, type RunResult, type SourceStats, formatBytes, loadConfig, type SovConfig, buildChain, selectDestinations, archiveName, resolvePluginsBeside } from "@sov/core";
import { toReport, type RunReport } from "./report/json.js";
import { readState, recordRun, stateDir, stateFile } from "./report/state.js";
import { COMPILE_CACHE_SUBDIR } from "./compile-cache.js";
import { buildInfo } from "./build-info.js";
import { writeMetrics } from "./report/metrics.js";
import { startProgress } from "./report/progress.js";
import { SOV_NODE_ENV } from "./node-flags.js";

export { SOV_NODE_ENV, sovNodeFlags } from "./node-flags.js";
export const DEFAULT_LOG_FILE = "/var/log/sovereign-backup.log";

const HELP = `sov: encrypted backups to local disk, a USB stick, or a plugin's destination

usage:
  sov run [--config PATH] [--target NAME|both] [--dry-run] [--once] [--verbose|--quiet] [--json]
  sov list [--config PATH]            print the resolved config and plugin chain
  sov status [--config PATH] [--max-age HOURS] [--json]
                                      last run and newest archive per destination (for monitoring)
  sov restore --list | --verify FILE | --latest [TARGET] | FILE [TARGET]   (sov restore --help)
  sov install [--prefix DIR] [--dry-run] [--config PATH]
                                      install the command, systemd units and /etc/sovereign-backup
  sov verify --storage [--config PATH] [--target NAME]
                                      check every archive copy against its checksum (no key needed)
  sov keygen [--out FILE] [--pq]      new age identity (0600, never overwritten); prints its recipient
  sov demo [--dir DIR]                back up embedded demo data (no root needed)
  sov --version | --help             version, commit and Node version of this build

exit codes: 0 ok, 1 backup failed, 2 config or argument error, 10 another run holds the lock
  (sov status: 0 ok, 1 last run failed, 2 config error, 3 newest archive too old or no run yet)
environment: SOVEREIGN_BACKUP_CONFIG_DIR (default /etc/sovereign-backup),
  SOVEREIGN_BACKUP_LOCKDIR (default /run/sovereign-backup/lock),
  SOVEREIGN_BACKUP_LOG (default ${DEFAULT_LOG_FILE}),
  SOVEREIGN_BACKUP_STATE_DIR (default /var/lib/sovereign-backup)
`;


const OPTIONS = {
  config: { type: "string", short: "c" },
  target: { type: "string", short: "t", multiple: true },
  "dry-run": { type: "boolean", short: "n" },
  once: { type: "boolean" },
  verbose: { type: "boolean", short: "v" },
  quiet: { type: "boolean", short: "q" },
  json: { type: "boolean" },
  "max-age": { type: "string" },
  storage: { type: "boolean" },
  out: { type: "string", short: "o" },
  pq: { type: "boolean" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean" },
  dir: { type: "string" },
} as const;

type Values = {
  config?: string;
  target?: string[];
  "dry-run"?: boolean;
  once?: boolean;
  verbose?: boolean;
  quiet?: boolean;
  json?: boolean;
  "max-age"?: string;
  storage?: boolean;
  out?: string;
  pq?: boolean;
  dir?: string;
};

/** Entry point shared by `sov` and the compatibility commands; resolves to the exit code. */
export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  // Built-in and globally installed plugins are this package's dependencies and neighbours.
  resolvePluginsBeside(fileURLToPath(new URL("../..", import.meta.url)));
  // Sub-commands with their own argument grammar parse their own arguments.
  if (argv[0] === "restore" || argv[0] === "install") return delegate(argv[0], argv.slice(1), env);
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    process.stderr.write(`sov: ${errorMessage(err)}\n${HELP}`);
    return ExitCode.usage;
  }
  const { positionals } = parsed;
  const values = parsed.values as Values & { help?: boolean; version?: boolean };
  if (values.version) {
    const build = buildInfo();
    // what a launcher set (node-flags.ts), so an operator can see how sov was started
    const launch = [...process.execArgv, ...Object.keys(SOV_NODE_ENV).flatMap((name) => (env[name] ? [`${name}=${env[name]}`] : []))];
    const flags = launch.length > 0 ? ` ${launch.join(" ")}` : "";
    process.stdout.write(`sov ${build.version} (commit ${build.commit}, Node ${build.node}${flags})\n`);
    return ExitCode.ok;
  }
  const command = positionals[0] ?? "";
  if (command === "help" || values.help) {
    process.stdout.write(HELP);
    return ExitCode.ok;
  }
  if (positionals.length > 1) {
    process.stderr.write(`sov: unexpected argument '${positionals[1]}'\n`);
    return ExitCode.usage;
  }
  const log = createLogger({
    verbose: !!values.verbose,
    quiet: !!values.quiet,
    stdoutReserved: !!values.json,
    file: logFile(env),
  });
  try {
    switch (command) {
      case "run":
        return await commandRun(values, env, log);
      case "list":
        return await commandList(values, env, log);
      case "status": {
        const { commandStatus } = await import("./report/status.js");
        return await commandStatus({ configPath: values.config, maxAge: values["max-age"], json: !!values.json, env, log });
      }
      case "verify": {
        if (!values.storage) {
          log.error("sov verify needs --storage (a full decrypting check is sov restore --verify FILE)");
          return ExitCode.usage;
        }
        const { verifyStorage } = await import("./verify-storage.js");
        return await verifyStorage({ configPath: values.config, targets: values.target, env, log });
      }
      case "keygen": {
        const { keygen } = await import("./keygen.js");
        return await keygen({ out: values.out, postQuantum: !!values.pq });
      }
      case "demo": {
        const { runDemo } = await import("./demo.js");
        return await runDemo({ dir: values.dir, verbose: !!values.verbose });
      }
      default:
        process.stderr.write(`sov: ${command ? `unknown command '${command}'` : "no command given"}\n${HELP}`);
        return ExitCode.usage;
    }
  } catch (err) {
    return reportError(err, log);
  }
}

async function delegate(command: "restore" | "install", argv: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const has = (...flags: string[]) => flags.some((f) => argv.includes(f));
  const log = createLogger({
    verbose: has("--verbose", "-v"),
    quiet: has("--quiet", "-q"),
    file: delegateLogFile(command, argv, env),
    // `restore --files` prints the entries on stdout; its messages go to stderr
    stdoutReserved: command === "restore" && has("--files"),
  });
  try {
    if (command === "restore") {
      const { restoreCommand } = await import("./restore/index.js");
      return await restoreCommand(argv, env, log);
    }
    const { installCommand } = await import("./install/index.js");
    return await installCommand(argv, env, log);
  } catch (err) {
    return reportError(err, log);
  }
}

/**
 * `sov install --prefix DIR` stages files for another root: it must not append to this host's
 * real log file, so it logs to the terminal only (unless SOVEREIGN_BACKUP_LOG names a file).
 */
function delegateLogFile(command: "restore" | "install", argv: string[], env: NodeJS.ProcessEnv): string | undefined {
  const staging = command === "install" && argv.some((a) => a === "--prefix" || a.startsWith("--prefix="));
  return staging && env.SOVEREIGN_BACKUP_LOG === undefined ? undefined : logFile(env);
}

/** The log file every command appends to; an empty SOVEREIGN_BACKUP_LOG means none. */
function logFile(env: NodeJS.ProcessEnv): string {
  return env.SOVEREIGN_BACKUP_LOG ?? DEFAULT_LOG_FILE;
}

export function reportError(err: unknown, log: Logger): number {
  if (err instanceof SovError) {
    log.error(err.message);
    return err.exitCode;
  }
  log.error(`unexpected failure: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  return ExitCode.failed;
}

async function commandRun(values: Values, env: NodeJS.ProcessEnv, log: Logger): Promise<number> {
  const controller = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    log.error(`received ${sig}: aborting; nothing is committed`);
    controller.abort(new Error(sig));
  };
  // SIGHUP (a closed terminal, `systemctl kill -s HUP`) would otherwise kill the process with
  // its temporary files, lock and mounted stick left behind.
  process.on("SIGINT", onSignal).on("SIGTERM", onSignal).on("SIGHUP", onSignal);
  const statePath = stateFile(env);
  const startedAt = new Date();
  let config: SovConfig | undefined;
  try {
    config = await loadConfig({ configPath: values.config, env, log });
    const previous = await readState(statePath).catch(() => null);
    const tty = !values.quiet && !values.json && !!process.stderr.isTTY;
    const progress =
      values.quiet || values.json
        ? undefined
        : (stats: SourceStats) => startProgress(stats, { tty, expectedBytes: previous?.lastRun.bytesRead, write: (s: string) => void process.stderr.write(s), log });
    const targets = values.target?.flatMap((t) => t.split(",")).filter(Boolean);
    const res = await runBackup({
      config,
      cliFiles: [
        { path: logFile(env) ?? "", why: "sov's log file" },
        { path: statePath, why: "sov's state file" },
        { path: join(stateDir(env), COMPILE_CACHE_SUBDIR), why: "sov's compile cache" },
      ],
      targets,
      dryRun: !!values["dry-run"],
      once: !!values.once,
      verbose: !!values.verbose,
      env,
      log,
      signal: controller.signal,
      progress,
    });
    printSummary(res, log);
    if (!res.dryRun) await record(toReport(res), res.archiveCounts, config, statePath, log);
    if (values.json) process.stdout.write(`${JSON.stringify(toReport(res), null, 2)}\n`);
    return res.exitCode;
  } catch (err) {
    const code = reportError(err, log);
    const report = failedReport(config, startedAt, code, errorMessage(err), log);
    // A held lock means another run is doing the work and will record it.
    if (code !== ExitCode.lockHeld && !values["dry-run"]) await record(report, {}, config, statePath, log);
    if (values.json) process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
    return code;
  } finally {
    process.off("SIGINT", onSignal).off("SIGTERM", onSignal).off("SIGHUP", onSignal);
  }
}

function failedReport(config: SovConfig | undefined, startedAt: Date, exitCode: number, error: string, log: Logger): RunReport {
  const finishedAt = new Date();
  return {
    status: "failed",
    exitCode,
    host: config?.host ?? hostname().split(".")[0] ?? "localhost",
    startedAt: startedAt.toISOString(),
    finishedAt: finishedAt.toISOString(),
    durationSeconds: Math.round((finishedAt.getTime() - startedAt.getTime()) / 10) / 100,
    filesRead: 0,
    bytesRead: 0,
    destinations: [],
    pruned: [],
    warnings: [...log.warnings],
    error,
  };
}

/** The state file and the metrics file are best effort: they never change a run's exit code. */
async function record(report: RunReport, counts: Record<string, number>, config: SovConfig | undefined, statePath: string, log: Logger): Promise<void> {
  try {
    const state = await recordRun(statePath, report);
    if (config?.metricsTextfile) await writeMetrics(config.metricsTextfile, state, counts);
  } catch (err) {
    log.warn(`could not record the run in ${statePath}: ${errorMessage(err)}`);
  }
}

export function printSummary(res: RunResult, log: Logger): void {
  if (res.dryRun) {
    log.info("dry run: nothing was locked, read or written");
    return;
  }
  const seconds = ((res.finishedAt.getTime() - res.startedAt.getTime()) / 1000).toFixed(1);
  log.info(`summary: ${res.exitCode === 0 ? "ok" : "FAILED"} in ${seconds}s; read ${res.stats.files} files, ${formatBytes(res.stats.bytes)}`);
  for (const d of res.destinations) {
    log.info(d.archive ? `  ${d.destination}: ${d.archive.location} (${formatBytes(d.archive.size)})` : `  ${d.destination}: FAILED: ${d.error ?? "unknown"}`);
  }
  for (const p of res.pruned) log.info(`  pruned ${p.location}`);
  if (res.warnings.length) log.info(`  ${res.warnings.length} warning(s); see above or the log file`);
}

async function commandList(values: Values, env: NodeJS.ProcessEnv, log: Logger): Promise<number> {
  const config = await loadConfig({ configPath: values.config, env, log });
  // Every configured destination (a v0.1 config's stick too), each marked whether a plain
  // `sov run` writes it; --target narrows the list as it narrows a run.
  const selected = values.target?.length ? selectDestinations(config, values.target) : config.destinations;
  const writtenByDefault = new Set(selectDestinations(config, undefined).map((d) => d.name));
  const run = { host: config.host, startedAt: new Date(), dryRun: true, signal: new AbortController().signal };
  const chain = await buildChain(config, selected, run, log, env);
  const name = archiveName(config.host, run.startedAt, chain.compressor?.extension || null, chain.encryptor.extension);
  for (const line of describeRun(chain, name, writtenByDefault)) process.stdout.write(`${line}\n`);
  for (const p of chain.plugins) process.stdout.write(`plugin ${p.instance}: ${p.name} <- ${p.from}\n`);
  return ExitCode.ok;
}
