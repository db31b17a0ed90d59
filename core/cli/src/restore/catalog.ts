import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import {
  configuredDestinations,
  compareArchiveNames,
  DirectoryStore,
  errorMessage,
  parseArchiveName,
  V01_DEFAULT_LOCAL,
  type ArchiveRef,
  type Destination,
  type Logger,
  type ParsedArchiveName,
  type RangeReader,
  type SovConfig,
} from "@sov/core";
import { destinationRange, fileRange } from "./ranges.js";
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
  /** Reads parts of it, where the destination can (a seekable restore). */
  readonly range?: RangeReader;
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

/**
 * The config's destinations, read through the storage contract: their plugins (and no other
 * stage's) are loaded as `sov run` loads them, a destination that needs it is opened (a USB
 * stick found by its label and mounted, a connection; closed when restore ends), and its
 * listing is the core's, which never shows temporaries or sidecars. Restore names no plugin: a local directory, a stick and an S3
 * bucket are read the same way. A destination that cannot be opened is named and skipped.
 */
export async function configuredArchiveDirs(config: SovConfig, env: NodeJS.ProcessEnv, log: Logger, opened: OpenedDestinations): Promise<ArchiveDir[]> {
  const dirs: ArchiveDir[] = [];
  for (const { destination, store } of await configuredDestinations(config, log, env)) {
    if (store.features.needsOpen) {
      try {
        await destination.open();
        opened.add(destination);
      } catch (err) {
        log.warn(`destination ${destination.name}: cannot open: ${errorMessage(err)}`);
        continue;
      }
    }
    const where = store.features.localPath ?? destination.describe()[0] ?? destination.name;
    dirs.push({ destination: destination.name, dir: where, via: destination });
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
      const range = via ? destinationRange(via, ref) : fileRange(join(dir, ref.name), ref.size);
      if (parsed) found.push({ ...ref, parsed, order, open, ...(range ? { range } : {}) });
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
