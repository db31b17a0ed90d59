import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { loadConfig, parseConfigText, shortHostname, type SovConfig, ConfigError, ExitCode, RunError, SovError, errorMessage, type Logger } from "@sov/core";
import { sovNodeEnvLines, sovNodeFlags } from "../node-flags.js";
import { EXAMPLE_CONFIG } from "./example-config.js";
import { InstallActions, type InstallChange } from "./fs-actions.js";
import { installedDestinations, SYSTEM_PATHS, unitOptionsFromConfig } from "./from-config.js";
import { PACKAGED_LAYOUT_FILE, readPackagedLayout, type PackagedLayout } from "./packaged-layout.js";
import { checkScheduleWithSystemd } from "./schedule.js";
import { renderUnits, UNIT_NAMES, type UnitOptions, type UnitTexts } from "./units.js";

export { renderUnits, UNIT_NAMES, VERIFY_ARGS, type UnitName, type UnitOptions, type UnitTexts } from "./units.js";
export { DEFAULT_SCHEDULE, scheduleFromConfig, type Schedule } from "./schedule.js";
export { installedDestinations, SYSTEM_PATHS, unitOptionsFromConfig, type InstalledDestination } from "./from-config.js";
export { EXAMPLE_CONFIG } from "./example-config.js";
export type { InstallChange } from "./fs-actions.js";
export { PACKAGED_LAYOUT_FILE, type PackagedLayout } from "./packaged-layout.js";

const USAGE = `usage: sov install [--prefix DIR] [--dry-run] [--config PATH]

Installs the sov command (${SYSTEM_PATHS.bin}/sov and the sovereign-backup / sovereign-restore
wrappers), the systemd units in ${SYSTEM_PATHS.units}, ${SYSTEM_PATHS.configDir}/ (0750) with an example
config when there is none, ${SYSTEM_PATHS.runtime}, ${SYSTEM_PATHS.state} and the USB mount point.
Safe to re-run: it changes only what differs and never overwrites a config (the current
example goes beside it as <name>.new). Re-run it after editing the config's destinations or
schedule keys: the units are generated from them.

  --prefix DIR   write everything under DIR (a staging root); the units still name the real paths
  --dry-run, -n  print what would change and change nothing
  --config PATH  the config the services should use (read at DIR/PATH with --prefix);
                 default: ${SYSTEM_PATHS.configDir}/<hostname -s>.yaml, else config.yaml
`;

/** Marks a wrapper as ours, so a file that is not (the bash tool's script) is moved aside, not lost. */
const WRAPPER_MARK = "installed by `sov install`";

/** The commands install puts on PATH and the shim each one runs. */
const COMMANDS = [
  { name: "sov", shim: "sov.js" },
  { name: "sovereign-backup", shim: "sovereign-backup.js" },
  { name: "sovereign-restore", shim: "sovereign-restore.js" },
] as const;

export interface InstallOptions {
  /** A staging root; "/" (the default) is the running system. */
  prefix?: string | undefined;
  dryRun?: boolean;
  /** The config the services use, as the running system sees it. */
  configPath?: string | undefined;
  log: Logger;
  env?: NodeJS.ProcessEnv;
  /** The node binary the wrappers run; defaults to the one running install. */
  nodePath?: string;
  /** The directory holding sov.js and the compatibility shims; defaults to this package's bin/. */
  binDir?: string;
  /** What a distribution package installed; defaults to this package's packaged-layout.json, if any. */
  layout?: PackagedLayout | null;
}

export interface InstallReport {
  readonly changes: readonly InstallChange[];
  readonly units: UnitTexts;
  /** The config the units were generated from (the example when there was none). */
  readonly configFile: string;
}

/** `sov install`: the CLI entry the lead wires into cli.ts. */
export async function installCommand(argv: string[], env: NodeJS.ProcessEnv, log: Logger): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        prefix: { type: "string" },
        "dry-run": { type: "boolean", short: "n" },
        config: { type: "string", short: "c" },
        help: { type: "boolean", short: "h" },
      },
      allowPositionals: false,
      strict: true,
    }));
  } catch (err) {
    process.stderr.write(`sov install: ${errorMessage(err)} (see sov install --help)\n`);
    return ExitCode.usage;
  }
  if (values.help) {
    process.stdout.write(USAGE);
    return ExitCode.ok;
  }
  try {
    await install({ prefix: values.prefix, dryRun: !!values["dry-run"], configPath: values.config, log, env });
    return ExitCode.ok;
  } catch (err) {
    if (err instanceof SovError) {
      log.error(err.message);
      return err.exitCode;
    }
    log.error(`sov install failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    return ExitCode.failed;
  }
}

/**
 * Installs (or, with dryRun, describes) everything `sov install` manages. Everything is read
 * and checked before the first change: a config the units cannot be generated from stops the
 * install with nothing written.
 */
export async function install(opts: InstallOptions): Promise<InstallReport> {
  const { log } = opts;
  const dryRun = !!opts.dryRun;
  const prefix = resolve(opts.prefix ?? "/");
  const at = (systemPath: string) => (prefix === "/" ? systemPath : join(prefix, systemPath));
  if (prefix === "/" && !dryRun && process.getuid?.() !== 0) {
    throw new ConfigError("sov install writes /etc and /usr/local/bin: run it as root, or try it with --dry-run or --prefix DIR");
  }
  const binDir = opts.binDir ?? fileURLToPath(new URL("../../../bin/", import.meta.url));
  const layout = opts.layout !== undefined ? opts.layout : readPackagedLayout(fileURLToPath(new URL(`../../../${PACKAGED_LAYOUT_FILE}`, import.meta.url)));
  const commandDir = layout?.binDir ?? SYSTEM_PATHS.bin;
  const nodePath = opts.nodePath ?? process.execPath;
  if (!existsSync(join(binDir, "sov.js"))) throw new RunError(`cannot find sov.js in ${binDir}; is the package complete?`);

  // The config: the one named, else the one sov itself would find, else the example.
  const explicit = opts.configPath ? resolve(opts.configPath) : null;
  const active = explicit ?? findConfig(at);
  if (explicit && !existsSync(at(explicit))) throw new ConfigError(`--config ${explicit}: no such file (looked at ${at(explicit)})`);
  const exampleTarget = join(SYSTEM_PATHS.configDir, "config.yaml");
  let config: SovConfig;
  try {
    config = active ? await loadConfig({ configPath: at(active), log }) : parseConfigText(at(exampleTarget), EXAMPLE_CONFIG, log);
  } catch (err) {
    if (err instanceof SovError) throw new ConfigError(`${errorMessage(err)}\nsov install generates the units from the config: fix it, then re-run sov install`);
    throw err;
  }
  const destinations = await installedDestinations(config, log);
  const unitOptions: UnitOptions = unitOptionsFromConfig(config, destinations, { sovCommand: join(commandDir, "sov"), configPath: explicit }, log);
  checkScheduleWithSystemd(unitOptions.schedule, config.file);
  const units = renderUnits(unitOptions);
  const wrappers = COMMANDS.map((c) => ({ ...c, shimPath: join(binDir, c.shim) }));

  log.info(`sov install${dryRun ? " (dry run: nothing is changed)" : ""}${prefix === "/" ? "" : ` into ${prefix}`}; units from ${active ? at(active) : "the example config"}`);
  const act = new InstallActions(dryRun, log);

  await act.directory(at(SYSTEM_PATHS.configDir), 0o750, true);
  if (!active) {
    await act.fileIfAbsent(at(exampleTarget), EXAMPLE_CONFIG, 0o640);
    log.info(`  review ${at(exampleTarget)} (sources, destinations, age_recipient) before enabling the timers`);
  } else if (readFileSync(at(active), "utf8") === EXAMPLE_CONFIG) {
    log.info(`unchanged ${at(active)}`);
  } else {
    await act.proposal(at(active), at(`${active}.new`), EXAMPLE_CONFIG, 0o640);
  }

  if (layout) checkPackagedCommands(at, layout, log);
  else await act.directory(at(SYSTEM_PATHS.bin), 0o755, false);
  for (const w of layout ? [] : wrappers) {
    if (!existsSync(w.shimPath)) {
      log.warn(`skipping ${SYSTEM_PATHS.bin}/${w.name}: ${w.shimPath} does not exist in this version of sov`);
      continue;
    }
    await act.file(at(join(SYSTEM_PATHS.bin, w.name)), wrapperScript(w.name, nodePath, w.shimPath), 0o755, {
      moveAsideForeign: (existing) => !existing.includes(WRAPPER_MARK),
    });
  }

  await act.directory(at(SYSTEM_PATHS.units), 0o755, false);
  const unitsBefore = act.changes.length;
  for (const name of UNIT_NAMES) {
    const target = join(SYSTEM_PATHS.units, name);
    if (layout && !existsSync(at(target)) && readOrNull(at(join(layout.unitDir, name))) === units[name]) {
      log.info(`unchanged ${at(join(layout.unitDir, name))} (installed by the package)`);
      continue;
    }
    // A config that needs other units than the package's gets them in /etc, which systemd prefers.
    await act.file(at(target), units[name], 0o644);
  }
  const unitsChanged = act.changes.length > unitsBefore;

  await act.directory(at(SYSTEM_PATHS.runtime), 0o750, true);
  await act.directory(at(SYSTEM_PATHS.state), 0o750, true);
  // A mount point may have the stick mounted on it: created when missing, otherwise left alone.
  for (const mount of unitOptions.usbMountPoints) await act.directory(at(mount), 0o755, false);
  // The service may write the log file but not create it (/var/log is read-only in its sandbox).
  await act.fileIfAbsent(at(SYSTEM_PATHS.logFile), "", 0o640);
  // ReadWritePaths= needs the directories to exist; dest-local would create them 0700 too.
  for (const dir of unitOptions.localDestinations) await act.directory(at(dir), 0o700, false);

  warnAboutBashTool(at, log);
  checkOwner(at(SYSTEM_PATHS.configDir), log);
  if (unitsChanged && !dryRun && prefix === "/") reloadSystemd(opts.env ?? process.env, log);

  const n = act.changes.length;
  if (n === 0) {
    log.info("sov install: everything is in place; nothing changed");
  } else {
    log.info(`sov install: ${n} change${n === 1 ? "" : "s"}${dryRun ? " would be made" : ""}`);
    if (unitsChanged) {
      log.info(`next: systemctl daemon-reload && systemctl enable --now sov-backup.timer sov-verify.timer`);
    }
  }
  return { changes: act.changes, units, configFile: config.file };
}

/** The package manager owns the commands: install only says when one is missing. */
function checkPackagedCommands(at: (p: string) => string, layout: PackagedLayout, log: Logger): void {
  for (const c of COMMANDS) {
    const path = at(join(layout.binDir, c.name));
    if (existsSync(path)) log.info(`unchanged ${path} (installed by the package)`);
    else log.warn(`${path} is missing although sov was installed by a package: reinstall the sov package`);
  }
}

function readOrNull(path: string): string | null {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return null;
  }
}

/** The order the CLI searches: <hostname -s>.yaml, then config.yaml. */
function findConfig(at: (p: string) => string): string | null {
  for (const name of [`${shortHostname()}.yaml`, "config.yaml"]) {
    const path = join(SYSTEM_PATHS.configDir, name);
    if (existsSync(at(path))) return path;
  }
  return null;
}

/** A POSIX shell word in single quotes. */
function shellQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

export function wrapperScript(name: string, nodePath: string, shimPath: string): string {
  return [
    "#!/bin/sh",
    `# ${name}: ${WRAPPER_MARK}. Runs sov with the node that installed it (the timer's`,
    "# PATH may not have node); re-run `sov install` after moving or upgrading node or sov.",
    ...sovNodeEnvLines(),
    `exec ${[nodePath, ...(nodePath === process.execPath ? sovNodeFlags() : []), shimPath].map(shellQuote).join(" ")} "$@"`,
    "",
  ].join("\n");
}

/** The bash tool's timer would run a second, old-style backup every night. */
function warnAboutBashTool(at: (p: string) => string, log: Logger): void {
  const old = at(join(SYSTEM_PATHS.units, "sovereign-backup.timer"));
  if (existsSync(old)) {
    log.warn(`${old} (the bash tool's timer) is still installed: disable it with systemctl disable --now sovereign-backup.timer, then remove it and sovereign-backup.service`);
  }
}

function checkOwner(path: string, log: Logger): void {
  if (process.getuid?.() !== 0) return;
  try {
    const st = statSync(path);
    if (st.uid !== 0) log.warn(`${path} is owned by uid ${st.uid}: whoever owns it can change what root backs up; chown root:root it`);
  } catch {
    // absent in a dry run
  }
}

function reloadSystemd(env: NodeJS.ProcessEnv, log: Logger): void {
  if (!existsSync("/run/systemd/system")) {
    log.info("systemd is not running here; run systemctl daemon-reload once it is");
    return;
  }
  const res = spawnSync("systemctl", ["daemon-reload"], { env, stdio: ["ignore", "inherit", "inherit"] });
  if (res.status === 0) log.info("ran systemctl daemon-reload");
  else log.warn(`systemctl daemon-reload failed (${res.error ? res.error.message : `exit ${res.status}`}); run it by hand`);
}
