import { parseArgs } from "node:util";
import { readFileSync } from "node:fs";
import { ExitCode, SovError, errorMessage } from "./errors.js";
import { createLogger, type Logger } from "./log.js";
import { describeRun, formatBytes, runBackup, type RunResult } from "./run.js";
import { loadConfig } from "./config/load.js";
import { buildChain, selectDestinations } from "./chain.js";
import { archiveName } from "./archive-name.js";

export const DEFAULT_LOG_FILE = "/var/log/sovereign-backup.log";

const HELP = `sov: encrypted backups to local disk, a USB stick, or a plugin's destination

usage:
  sov run [--config PATH] [--target NAME|both] [--dry-run] [--once] [--verbose] [--quiet]
  sov list [--config PATH]            print the resolved config and plugin chain
  sov demo [--dir DIR]                back up embedded demo data (no root needed)
  sov --version | --help

exit codes: 0 ok, 1 backup failed, 2 config or argument error, 10 another run holds the lock
environment: SOVEREIGN_BACKUP_CONFIG_DIR (default /etc/sovereign-backup),
  SOVEREIGN_BACKUP_LOCKDIR (default /run/sovereign-backup/lock),
  SOVEREIGN_BACKUP_LOG (default ${DEFAULT_LOG_FILE})
`;

export function version(): string {
  const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };
  return pkg.version;
}

const RUN_OPTIONS = {
  config: { type: "string", short: "c" },
  target: { type: "string", short: "t", multiple: true },
  "dry-run": { type: "boolean", short: "n" },
  once: { type: "boolean" },
  verbose: { type: "boolean", short: "v" },
  quiet: { type: "boolean", short: "q" },
  help: { type: "boolean", short: "h" },
  version: { type: "boolean" },
  dir: { type: "string" },
} as const;

/** Entry point shared by `sov` and the compatibility commands; resolves to the exit code. */
export async function main(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: RUN_OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    process.stderr.write(`sov: ${errorMessage(err)}\n${HELP}`);
    return ExitCode.usage;
  }
  const { values, positionals } = parsed;
  if (values.version) {
    process.stdout.write(`sov ${version()}\n`);
    return ExitCode.ok;
  }
  const command = positionals[0] ?? (values.help ? "help" : "");
  if (command === "help" || values.help) {
    process.stdout.write(HELP);
    return ExitCode.ok;
  }
  const log = createLogger({ verbose: !!values.verbose, quiet: !!values.quiet, file: env.SOVEREIGN_BACKUP_LOG ?? DEFAULT_LOG_FILE });
  try {
    switch (command) {
      case "run":
        return await commandRun(values, positionals.slice(1), env, log);
      case "list":
        return await commandList(values, env, log);
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

export function reportError(err: unknown, log: Logger): number {
  if (err instanceof SovError) {
    log.error(err.message);
    return err.exitCode;
  }
  log.error(`unexpected failure: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  return ExitCode.failed;
}

type Values = { [K in keyof typeof RUN_OPTIONS]?: (typeof RUN_OPTIONS)[K] extends { multiple: true } ? string[] : (typeof RUN_OPTIONS)[K] extends { type: "string" } ? string : boolean };

async function commandRun(values: Values, extra: string[], env: NodeJS.ProcessEnv, log: Logger): Promise<number> {
  if (extra.length) {
    log.error(`sov run takes no positional arguments (got ${extra.join(" ")})`);
    return ExitCode.usage;
  }
  const controller = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    log.error(`received ${sig}: aborting; nothing is committed`);
    controller.abort(new Error(sig));
  };
  process.on("SIGINT", onSignal).on("SIGTERM", onSignal);
  try {
    const targets = values.target?.flatMap((t) => t.split(",")).filter(Boolean);
    const res = await runBackup({ configPath: values.config, targets, dryRun: !!values["dry-run"], once: !!values.once, env, log, signal: controller.signal });
    printSummary(res, log);
    return res.exitCode;
  } finally {
    process.off("SIGINT", onSignal).off("SIGTERM", onSignal);
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
  const selected = selectDestinations(config, values.target);
  const run = { host: config.host, startedAt: new Date(), dryRun: true, signal: new AbortController().signal };
  const chain = await buildChain(config, selected, run, log);
  const name = archiveName(config.host, run.startedAt, chain.compressor?.extension || null, chain.encryptor.extension);
  for (const line of describeRun(chain, name)) process.stdout.write(`${line}\n`);
  for (const p of chain.plugins) process.stdout.write(`plugin ${p.instance}: ${p.name} <- ${p.from}\n`);
  return ExitCode.ok;
}
