import { constants as fsc, createReadStream } from "node:fs";
import { access, stat } from "node:fs/promises";
import { basename } from "node:path";
import type { Readable } from "node:stream";
import { parseArgs } from "node:util";
import { SeekIndexError } from "@sov/core/archive";
import { parseArchiveName, loadConfig, loadDecoder, shortHostname, type RangeReader, type SovConfig, ConfigError, ExitCode, SovError, errorMessage, createLogger, type Logger, formatBytes } from "@sov/core";
import { configuredArchiveDirs, fallbackArchiveDirs, latestArchive, listArchives, OpenedDestinations, type ArchiveDir, type ListedArchive } from "./catalog.js";
import { archiveLayers, openArchivePlaintext, type DecoderLookup } from "./decode.js";
import { extractArchive, type ExtractOptions, type ExtractReport } from "./extract.js";
import { extractArchiveOnThread } from "./extract-thread.js";
import { countedRange, fileRange } from "./ranges.js";
import { entriesOfTar, fileFilter, fileLine, type FileLine } from "./files.js";
import { ArchiveReadError } from "./tar-reader.js";
import { openSeekable, planRead, readSelected, selectEntries, type SeekableArchive } from "./seekable.js";
import { prepareTarget, type PromptIO } from "./target.js";
import { ReadProgress } from "./read-progress.js";
import { READ_CHUNK, verifyArchiveStream } from "./verify.js";

export const DEFAULT_IDENTITY = "/data/secrets/age/age-identity";

export const RESTORE_HELP = `sov restore: list, verify and restore archives

usage:
  sov restore --list [--host H] [--config PATH | --dir DIR...]
  sov restore --verify FILE
  sov restore --verify --latest [--host H]
  sov restore FILE [TARGET] [--path P]...
  sov restore --latest [TARGET] [--host H] [--path P]...
  sov restore --files FILE [PATTERN]...
  sov restore --files --latest [--host H] [PATTERN]...

  FILE is a path, or an archive name from --list (looked up in the destinations).
  TARGET defaults to a new /tmp/sovereign-restore-<timestamp> directory. TARGET / asks you to
  type YES at a terminal; a TARGET that is a symlink is refused.

options:
  --identity PATH   age identity file (default: $SOVEREIGN_BACKUP_IDENTITY, else ${DEFAULT_IDENTITY})
  --path P          restore only P and everything below it (like tar -x P); * ? [..] are
                    wildcards; repeat for more paths. An archive with an index (sov 0.2 and
                    later, zstd or lz4) is then read only where those entries are
  --files           list the archive's entries like tar -tv (only those under PATTERNs, if
                    given), from its index without reading the rest
  --config PATH     the config naming the destinations and this host
  --dir DIR         look for archives in DIR instead of the configured destinations (repeatable)
  --host H          with --latest: H's newest archive (default: this host); with --list:
                    only H's archives. Destinations whose place follows the host (an S3
                    prefix left at its default "<host>/") are read at H's place
  --allow-setid     as root: keep setuid/setgid bits on files (dropped and reported otherwise)
  --allow-devices   as root: create device nodes (refused and reported otherwise)
  --numeric-owner   as root: use the archive's uid/gid numbers, not its user and group names

exit codes: 0 ok, 1 restore or verify failed or entries were refused, 2 argument or identity error
`;

const OPTIONS = {
  list: { type: "boolean", short: "l" },
  verify: { type: "boolean" },
  files: { type: "boolean" },
  latest: { type: "boolean" },
  identity: { type: "string", short: "i" },
  path: { type: "string", multiple: true },
  config: { type: "string", short: "c" },
  dir: { type: "string", multiple: true },
  host: { type: "string" },
  "allow-setid": { type: "boolean" },
  "allow-devices": { type: "boolean" },
  "numeric-owner": { type: "boolean" },
  verbose: { type: "boolean", short: "v" },
  quiet: { type: "boolean", short: "q" },
  help: { type: "boolean", short: "h" },
} as const;

/** Streams and hooks a caller (or a test) may replace. */
export interface RestoreIO extends PromptIO {
  stdout: NodeJS.WritableStream;
  /** Finds decoders; the default loads the config's compress and encrypt plugins, then the built-in ones (`loadDecoder`). */
  decoderFor?: DecoderLookup;
  /** For the default TARGET's name. */
  now?: () => Date;
}

/**
 * `sov restore ...` (and the `sovereign-restore` compatibility command): argv is what follows
 * `restore`. Resolves to the exit code; never throws for a user's mistake.
 */
export async function restoreCommand(argv: string[], env: NodeJS.ProcessEnv = process.env, log?: Logger, io?: Partial<RestoreIO>): Promise<number> {
  const streams: RestoreIO = { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, ...io };
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (err) {
    streams.stderr.write(`sov restore: ${errorMessage(err)}\n${RESTORE_HELP}`);
    return ExitCode.usage;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    streams.stdout.write(RESTORE_HELP);
    return ExitCode.ok;
  }
  // --files prints the entries on stdout: its own messages go to stderr
  const logger = log ?? createLogger({ verbose: !!values.verbose, quiet: !!values.quiet, file: env.SOVEREIGN_BACKUP_LOG, stdoutReserved: !!values.files });
  const opened = new OpenedDestinations();
  try {
    return await dispatch(values, positionals, env, logger, streams, opened);
  } catch (err) {
    if (err instanceof SovError) {
      logger.error(err.message);
      return err.exitCode;
    }
    logger.error(`unexpected failure: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
    return ExitCode.failed;
  } finally {
    await opened.closeAll(logger);
  }
}

/** The archive a command works on: a file given by path, or one listed in a destination. */
interface ArchiveAt {
  readonly name: string;
  readonly location: string;
  /** Bytes, when the listing or the file says. */
  readonly size?: number;
  open(): Readable;
  /** Parts of the archive, where it can be read by range (a seekable restore reads only those). */
  readonly range?: RangeReader;
}

type Values = ReturnType<typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>>["values"];

async function dispatch(values: Values, positionals: string[], env: NodeJS.ProcessEnv, log: Logger, io: RestoreIO, opened: OpenedDestinations): Promise<number> {
  const usage = (message: string) => {
    throw new ConfigError(`${message} (see sov restore --help)`);
  };
  const modes = [values.list && "--list", values.verify && "--verify", values.files && "--files"].filter(Boolean);
  if (modes.length > 1) usage(`${modes.join(" and ")} cannot be combined`);
  if (values.list) {
    if (positionals.length) usage(`--list takes no arguments (got ${positionals.join(" ")})`);
    return listCommand(values, env, log, io, opened);
  }
  if (values.host && !values.latest) usage("--host goes with --latest or --list");

  if (values.files) return filesCommand(values, positionals, env, log, io, opened);

  // Which archive, and (for a restore) which TARGET.
  let archive: ArchiveAt;
  let target: string | undefined;
  if (values.latest) {
    const max = values.verify ? 0 : 1;
    if (positionals.length > max) usage(values.verify ? "--verify --latest takes no FILE" : `--latest takes at most a TARGET (got ${positionals.join(" ")}); use --path to pick paths`);
    const found = await findLatest(values, env, log, opened);
    log.info(`newest archive of ${found.parsed.host}: ${found.location} (${found.destination})`);
    archive = found;
    target = positionals[0];
  } else {
    if (positionals.length === 0) usage(values.verify ? "--verify needs a FILE" : "give an archive FILE, --latest or --list");
    if (positionals.length > (values.verify ? 1 : 2)) {
      usage(`too many arguments (${positionals.join(" ")}); ${values.verify ? "--verify takes one FILE" : "restore takes FILE [TARGET]; use --path P to restore only some paths"}`);
    }
    archive = await locateArchive(positionals[0]!, values, env, log, opened);
    target = positionals[1];
  }
  if (values.verify && values.path?.length) usage("--path does not go with --verify (verify always reads the whole archive)");

  const { name } = archive;
  const { identity, decoderFor } = await decodingOf(archive, values, env, log, io);
  // The progress line starts once nothing more is asked at the terminal (TARGET / wants YES).
  const stderr = io.stderr as NodeJS.WritableStream & { isTTY?: boolean };
  const progress = () => new ReadProgress(name, archive.size, { tty: !values.quiet && !!stderr.isTTY, write: (s) => void stderr.write(s), log });
  if (values.verify) return verifyCommand(archive, identity, decoderFor, log, progress());

  const targetDir = await prepareTarget(target, io, name, io.now?.());
  log.info(`restoring ${archive.location} into ${targetDir}${values.path?.length ? ` (only ${values.path.join(", ")})` : ""}`);
  const reading = progress();
  const extractOptions = {
    filters: values.path ?? [],
    allowSetid: !!values["allow-setid"],
    allowDevices: !!values["allow-devices"],
    numericOwner: !!values["numeric-owner"],
    log,
  };
  let report: ExtractReport;
  try {
    const fromIndex = values.path?.length && archive.range ? await restoreFromIndex(name, archive.range, identity, decoderFor, targetDir, extractOptions, reading) : null;
    report =
      fromIndex ??
      (await extractArchiveOnThread(await openArchivePlaintext(archive.open(), name, identity, { log, onRead: reading.count, decoderFor }), targetDir, extractOptions));
  } finally {
    // the progress line is gone before the summary is written
    reading.stop();
  }
  return summarize(report, name, targetDir, log);
}

/**
 * What decoding `archive` needs: a name that says its layers, the identity (checked, not read),
 * and the decoders (the caller's, else the config's plugins', then sov's own).
 */
async function decodingOf(archive: ArchiveAt, values: Values, env: NodeJS.ProcessEnv, log: Logger, io: RestoreIO): Promise<{ identity: string; decoderFor: DecoderLookup }> {
  if (!archiveLayers(archive.name)) throw new ConfigError(`${archive.name}: not an archive name (expected ...tar[.zst|.lz4|.gz].age); cannot tell how to decode it`);
  const identity = await checkIdentity(values.identity, env);
  return { identity, decoderFor: io.decoderFor ?? decodersOf(values, env, log) };
}

/** `--files`: the archive's entries, from its index when it has one. */
async function filesCommand(values: Values, positionals: string[], env: NodeJS.ProcessEnv, log: Logger, io: RestoreIO, opened: OpenedDestinations): Promise<number> {
  if (values.path?.length) throw new ConfigError("--files takes PATTERNs as arguments, not --path (see sov restore --help)");
  let archive: ArchiveAt;
  let patterns: string[];
  if (values.latest) {
    archive = await findLatest(values, env, log, opened);
    patterns = positionals;
  } else {
    if (positionals.length === 0) throw new ConfigError("--files needs a FILE, or --latest (see sov restore --help)");
    archive = await locateArchive(positionals[0]!, values, env, log, opened);
    patterns = positionals.slice(1);
  }
  const { identity, decoderFor } = await decodingOf(archive, values, env, log, io);
  const keep = fileFilter(patterns);
  const seek = archive.range ? await openIndex(archive.name, archive.range, identity, decoderFor, log) : null;
  let lines: string[] = [];
  let listed = 0;
  const emit = (e: FileLine) => {
    if (!keep(e.name)) return;
    listed++;
    lines.push(fileLine(e));
    if (lines.length >= 4096) flush();
  };
  const flush = () => {
    if (lines.length) io.stdout.write(`${lines.join("\n")}\n`);
    lines = [];
  };
  if (seek) {
    for (let i = 0; i < seek.index.count; i++) {
      emit(seek.index.entry(i));
      // a turn for signals and timers between batches of a long listing
      if (i % 8192 === 8191) await new Promise((resolve) => setImmediate(resolve));
    }
  } else {
    log.info(`${archive.name} has no index: reading the whole archive to list it`);
    const plaintext = await openArchivePlaintext(archive.open(), archive.name, identity, { log, decoderFor });
    try {
      for await (const e of entriesOfTar(plaintext)) emit(e);
    } catch (err) {
      flush();
      if (!(err instanceof ArchiveReadError)) throw err;
      log.error(`listing FAILED: ${archive.name}: ${err.message}`);
      return ExitCode.failed;
    }
  }
  flush();
  if (patterns.length && listed === 0) {
    log.error(`${patterns.join(", ")}: not found in the archive`);
    return ExitCode.failed;
  }
  return ExitCode.ok;
}

/**
 * A partial restore through the archive's index: only the frames holding the selected entries
 * are read. Null when the archive has no index, or its index is damaged or wrong (said, and the
 * caller then reads the archive whole, with the same extraction).
 */
async function restoreFromIndex(
  name: string,
  cipher: RangeReader,
  identity: string,
  decoderFor: DecoderLookup,
  targetDir: string,
  options: ExtractOptions & { filters: readonly string[]; log: Logger },
  reading: ReadProgress,
): Promise<ExtractReport | null> {
  const { log } = options;
  let fetched = 0;
  const counted = countedRange(cipher, (bytes) => {
    fetched += bytes;
    reading.count(bytes);
  });
  const seek = await openIndex(name, counted, identity, decoderFor, log);
  if (!seek) return null;
  const selected = selectEntries(seek.index, options.filters);
  const plan = planRead(seek.index, selected);
  if (plan.compressedBytes > seek.plain.size / 2) {
    log.info(`the paths asked for are most of the archive (${selected.length} of its ${seek.index.count} entries): reading it whole`);
    return null;
  }
  log.info(`the archive's index holds ${selected.length} of its ${seek.index.count} entries for ${options.filters.join(", ")}: reading only those`);
  const fast = readSelected(seek, plan, identity, log);
  const report = await extractArchive(fast.tar, targetDir, options);
  const failure = fast.failure();
  log.info(`read ${formatBytes(fetched)} (${fetched} bytes) of the ${formatBytes(cipher.size)} archive`);
  if (!failure) return report;
  log.warn(`${name}: ${failure.message}; the index cannot be trusted: restoring again from the whole archive`);
  return null;
}

/** The archive's index, or null (none, or damaged: said) when the archive must be read whole. */
async function openIndex(name: string, cipher: RangeReader, identity: string, decoderFor: DecoderLookup, log: Logger): Promise<SeekableArchive | null> {
  try {
    const seek = await openSeekable(cipher, name, identity, { decoderFor, log });
    if (!seek) log.debug(`${name} has no index (written before sov 0.2, or without compression): reading it whole`);
    return seek;
  } catch (err) {
    if (!(err instanceof SeekIndexError)) throw err;
    log.warn(`${name}: its index is damaged (${err.message}): reading the whole archive`);
    return null;
  }
}

function summarize(report: ExtractReport, name: string, target: string, log: Logger): number {
  const what = `${report.restored} entries (${formatBytes(report.bytes)} of file data)`;
  for (const p of report.notFound) log.error(`${p}: not found in the archive`);
  if (report.error) {
    log.error(`restore FAILED: ${report.error}`);
    log.error(`${what} were written to ${target} before the failure; do not trust them; try an older archive`);
    return ExitCode.failed;
  }
  log.info(`restored ${what} from ${name} into ${target}${report.skipped ? `; ${report.skipped} entries not selected` : ""}`);
  if (report.refused.length) {
    log.warn(`${report.refused.length} entries were refused or changed (listed above); the rest is restored`);
    return ExitCode.failed;
  }
  return report.notFound.length ? ExitCode.failed : ExitCode.ok;
}

async function verifyCommand(archive: ArchiveAt, identity: string, decoderFor: DecoderLookup, log: Logger, reading: ReadProgress): Promise<number> {
  const { name } = archive;
  let report;
  try {
    report = await verifyArchiveStream(archive.open(), name, identity, { log, onRead: reading.count, decoderFor });
  } finally {
    reading.stop();
  }
  for (const u of report.unsafe) log.warn(`${u.entry}: a restore would refuse this entry: ${u.reason}`);
  if (!report.ok) {
    log.error(`verify FAILED: ${name}: ${report.error ?? "unknown error"}`);
    return ExitCode.failed;
  }
  log.info(`verify ok: ${name}: ${report.entries} entries, ${report.files} files, ${formatBytes(report.bytes)}; decrypted, decompressed and read to the tar's end`);
  return ExitCode.ok;
}

async function listCommand(values: Values, env: NodeJS.ProcessEnv, log: Logger, io: RestoreIO, opened: OpenedDestinations): Promise<number> {
  const dirs = await archiveDirs(values, env, log, opened);
  const archives = (await listArchives(dirs, log)).filter((a) => !values.host || a.parsed.host === values.host);
  if (!archives.length) {
    log.info(`no archives${values.host ? ` of host ${values.host}` : ""} in ${dirs.map((d) => d.dir).join(", ") || "any readable destination"}`);
    return ExitCode.ok;
  }
  const rows = archives.map((a) => [formatDate(a.parsed.timestamp), formatBytes(a.size), a.destination, a.location]);
  const widths = [0, 1, 2].map((i) => Math.max(...rows.map((r) => r[i]!.length), ["DATE", "SIZE", "WHERE"][i]!.length));
  const line = (r: string[]) => `${r[0]!.padEnd(widths[0]!)}  ${r[1]!.padStart(widths[1]!)}  ${r[2]!.padEnd(widths[2]!)}  ${r[3]}\n`;
  io.stdout.write(line(["DATE", "SIZE", "WHERE", "PATH"]));
  for (const r of rows) io.stdout.write(line(r));
  return ExitCode.ok;
}

/**
 * `--dir` directories, else the configured destinations' directories. On a machine with no
 * config at all (a rebuilt host at 3 a.m.), the bash tool's places: `$SOVEREIGN_BACKUP_LOCAL_DIR`
 * (default /data/backups) and the stick's directory if one is mounted.
 */
async function archiveDirs(values: Values, env: NodeJS.ProcessEnv, log: Logger, opened: OpenedDestinations): Promise<ArchiveDir[]> {
  if (values.dir?.length) return values.dir.map((dir) => ({ destination: "dir", dir }));
  let config;
  try {
    config = await loadConfig({ configPath: values.config, env, log });
  } catch (err) {
    if (values.config || !(err instanceof ConfigError) || !/no config found/.test(err.message)) throw err;
    log.info("no config found: looking where the bash tool kept archives (--dir DIR to look elsewhere)");
    return fallbackArchiveDirs(env);
  }
  // --host H reads H's archives: a destination whose place depends on the host (an S3 prefix
  // that defaults to "<host>/") is built for H, so one host's config restores another's.
  return configuredArchiveDirs(values.host ? { ...config, host: values.host } : config, env, log, opened);
}

async function findLatest(values: Values, env: NodeJS.ProcessEnv, log: Logger, opened: OpenedDestinations): Promise<ListedArchive> {
  const dirs = await archiveDirs(values, env, log, opened);
  const host = values.host ?? (await configuredHost(values, env, log));
  const found = latestArchive(await listArchives(dirs, log), host);
  if (!found) {
    throw new SovError(`no archives of host ${host} in ${dirs.map((d) => d.dir).join(", ") || "any readable destination"} (--host H picks another host)`, ExitCode.failed);
  }
  return found;
}

/** The config's host; with --dir and no usable config, this machine's short hostname. */
async function configuredHost(values: Values, env: NodeJS.ProcessEnv, log: Logger): Promise<string> {
  if (!values.dir?.length) return (await loadConfig({ configPath: values.config, env, log })).host;
  try {
    return (await loadConfig({ configPath: values.config, env, log: quiet(log) })).host;
  } catch {
    return shortHostname();
  }
}

/** FILE as given, or an archive name found in the destinations (what --list shows). */
async function locateArchive(file: string, values: Values, env: NodeJS.ProcessEnv, log: Logger, opened: OpenedDestinations): Promise<ArchiveAt> {
  const st = await stat(file).catch(() => null);
  if (st?.isFile()) {
    return { name: basename(file), location: file, size: st.size, open: () => createReadStream(file, { highWaterMark: READ_CHUNK }), range: fileRange(file, st.size) };
  }
  if (st) throw new ConfigError(`${file} is not a regular file`);
  if (!file.includes("/") && parseArchiveName(file)) {
    const dirs = await archiveDirs(values, env, log, opened).catch(() => []);
    const hit = (await listArchives(dirs, log)).find((a) => a.name === file);
    if (hit) return hit;
  }
  throw new ConfigError(`archive ${file} not found`);
}

/** --identity, else $SOVEREIGN_BACKUP_IDENTITY, else the bash tool's default. Checked, never read here. */
async function checkIdentity(option: string | undefined, env: NodeJS.ProcessEnv): Promise<string> {
  const path = option || env.SOVEREIGN_BACKUP_IDENTITY || DEFAULT_IDENTITY;
  const how = option ? "--identity" : env.SOVEREIGN_BACKUP_IDENTITY ? "$SOVEREIGN_BACKUP_IDENTITY" : "the default";
  const hint = "pass --identity PATH or set SOVEREIGN_BACKUP_IDENTITY (the offline age identity: mount or insert it)";
  const st = await stat(path).catch((err: NodeJS.ErrnoException) => {
    throw new ConfigError(`age identity ${path} (${how}) ${err.code === "ENOENT" ? "does not exist" : `cannot be read (${err.code})`}; ${hint}`);
  });
  if (!st.isFile()) throw new ConfigError(`age identity ${path} (${how}) is not a file; ${hint}`);
  await access(path, fsc.R_OK).catch((err: NodeJS.ErrnoException) => {
    throw new ConfigError(`age identity ${path} (${how}) cannot be read (${err.code}); run as the user who owns it, or ${hint}`);
  });
  return path;
}

function formatDate(d: Date): string {
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

/**
 * Decoders from the config's compress and encrypt plugins first (a third-party compressor's
 * archives restore like sov's own), then sov's built-in ones. The config is read once, quietly,
 * and only when a decoder is first needed; with none, the built-in ones decode by the name.
 */
function decodersOf(values: Values, env: NodeJS.ProcessEnv, log: Logger): DecoderLookup {
  let config: Promise<SovConfig | undefined> | undefined;
  return async (extension) => {
    config ??= loadConfig({ configPath: values.config, env, log: quiet(log) }).catch(() => undefined);
    return loadDecoder(extension, await config);
  };
}

function quiet(log: Logger): Logger {
  const child = log.child("config");
  return { ...child, info: () => {}, warn: () => {}, debug: () => {} };
}
