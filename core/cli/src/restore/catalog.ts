import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { isAbsolute, join, resolve } from "node:path";
import type { Readable } from "node:stream";
import {
  buildChain,
  compareArchiveNames,
  DirectoryStore,
  errorMessage,
  parseArchiveName,
  V01_DEFAULT_LOCAL,
  type ArchiveRef,
  type Destination,
  type DestinationBlock,
  type Logger,
  type ParsedArchiveName,
  type SovConfig,
} from "@sov/core";
import { READ_CHUNK } from "./verify.js";

/** Where archives are: a directory on this host, or a destination read through the storage contract. */
export interface ArchiveDir {
  destination: string;
  /** The directory, or for `via` a description of the destination (its first `describe()` line). */
  dir: string;
  /** A configured destination, listed and read the way `sov run` wrote it (SFTP, S3, rclone, ...). */
  via?: Destination;
}

export interface ListedArchive extends ArchiveRef {
  readonly parsed: ParsedArchiveName;
  /** Reads the archive from where it lies, with no local copy. */
  open(): Readable;
}

/** Destinations restore opened (a connection, a mount): closed when the command ends. */
export class OpenedDestinations {
  private readonly opened: Destination[] = [];
  add(destination: Destination): void {
    this.opened.push(destination);
  }
  async closeAll(log: Logger): Promise<void> {
    for (const d of this.opened.splice(0).reverse()) {
      await d.close().catch((err) => log.warn(`destination ${d.name}: close failed: ${errorMessage(err)}`));
    }
  }
}

export const DEFAULT_USB_MOUNT = "/mnt/sov-backup";
const LOCAL_PLUGINS = new Set(["local", "@sov/dest-local"]);
const USB_PLUGINS = new Set(["usb", "@sov/dest-usb"]);

/**
 * The directories of the config's destinations that restore can read today: `local` ones, and
 * the USB stick's archive directory when it is mounted (`$SOVEREIGN_BACKUP_USB_MOUNT`, default
 * /mnt/sov-backup, plus the `subdir` option). Other destinations are named in a notice.
 */
export async function configuredArchiveDirs(config: SovConfig, env: NodeJS.ProcessEnv, log: Logger, opened: OpenedDestinations): Promise<ArchiveDir[]> {
  const dirs: ArchiveDir[] = [];
  const throughContract: DestinationBlock[] = [];
  for (const dest of config.destinations) {
    if (LOCAL_PLUGINS.has(dest.plugin)) {
      const path = dest.options.path;
      if (typeof path !== "string" || !path) {
        log.warn(`destination ${dest.name}: no path configured`);
        continue;
      }
      dirs.push({ destination: dest.name, dir: isAbsolute(path) ? path : resolve(config.dir, path) });
    } else if (USB_PLUGINS.has(dest.plugin)) {
      const mount = typeof dest.options.mount === "string" && dest.options.mount ? dest.options.mount : env.SOVEREIGN_BACKUP_USB_MOUNT || DEFAULT_USB_MOUNT;
      const subdir = typeof dest.options.subdir === "string" && dest.options.subdir ? dest.options.subdir : "sovereign-backup";
      const dir = join(mount, subdir);
      const st = await stat(dir).catch(() => null);
      if (st?.isDirectory()) dirs.push({ destination: dest.name, dir });
      else log.info(`destination ${dest.name}: ${dir} is not there (is the stick mounted at ${mount}?)`);
    } else {
      throughContract.push(dest);
    }
  }
  if (throughContract.length) dirs.push(...(await contractArchiveDirs(config, throughContract, env, log, opened)));
  return dirs;
}

/**
 * Destinations read through the storage contract: the plugins are loaded as `sov run` loads
 * them, a destination that needs it is opened (and closed when restore ends), and its listing
 * is the core's, which never shows temporaries or sidecars.
 */
async function contractArchiveDirs(
  config: SovConfig,
  blocks: DestinationBlock[],
  env: NodeJS.ProcessEnv,
  log: Logger,
  opened: OpenedDestinations,
): Promise<ArchiveDir[]> {
  const run = { host: config.host, startedAt: new Date(), dryRun: true, signal: new AbortController().signal };
  const chain = await buildChain(config, blocks, run, log, env);
  const dirs: ArchiveDir[] = [];
  for (const { destination, store } of chain.destinations) {
    if (store.features.needsOpen) {
      try {
        await destination.open();
        opened.add(destination);
      } catch (err) {
        log.warn(`destination ${destination.name}: cannot open: ${errorMessage(err)}`);
        continue;
      }
    }
    dirs.push({ destination: destination.name, dir: destination.describe()[0] ?? destination.name, via: destination });
  }
  return dirs;
}

/** The bash tool's restore looked in $SOVEREIGN_BACKUP_LOCAL_DIR and on a mounted stick. */
export async function fallbackArchiveDirs(env: NodeJS.ProcessEnv): Promise<ArchiveDir[]> {
  const dirs: ArchiveDir[] = [{ destination: "local", dir: env.SOVEREIGN_BACKUP_LOCAL_DIR || V01_DEFAULT_LOCAL }];
  const stick = join(env.SOVEREIGN_BACKUP_USB_MOUNT || DEFAULT_USB_MOUNT, "sovereign-backup");
  if ((await stat(stick).catch(() => null))?.isDirectory()) dirs.push({ destination: "usb", dir: stick });
  return dirs;
}

/**
 * Every archive in `dirs`, oldest first by the timestamp in its name (the order the bash tool's
 * `ls` gave), any host. An archive present in two places is listed twice.
 */
export async function listArchives(dirs: readonly ArchiveDir[], log: Logger): Promise<ListedArchive[]> {
  const found: Array<ListedArchive & { order: number }> = [];
  for (const [order, { destination, dir, via }] of dirs.entries()) {
    let refs: ArchiveRef[];
    try {
      refs = via ? await via.list() : await new DirectoryStore(dir, destination, log).list();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      log.warn(`destination ${destination}: cannot read ${dir}${code ? ` (${code})` : `: ${errorMessage(err)}`}`);
      continue;
    }
    for (const ref of refs) {
      const parsed = parseArchiveName(ref.name);
      const open = via ? () => via.read(ref) : () => createReadStream(join(dir, ref.name), { highWaterMark: READ_CHUNK });
      if (parsed) found.push({ ...ref, parsed, order, open });
    }
  }
  found.sort((a, b) => compareArchiveNames(a.name, b.name) || a.order - b.order);
  return found.map(({ order: _order, ...archive }) => archive);
}

/** The newest of `host`'s archives by the name's timestamp (not the file's mtime); the first destination wins a tie. */
export function latestArchive(archives: readonly ListedArchive[], host: string): ListedArchive | undefined {
  let best: ListedArchive | undefined;
  for (const a of archives) {
    if (a.parsed.host !== host) continue;
    if (!best || compareArchiveNames(a.name, best.name) > 0) best = a;
  }
  return best;
}
