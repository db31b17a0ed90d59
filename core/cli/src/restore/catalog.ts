import { stat } from "node:fs/promises";
import { isAbsolute, join, resolve } from "node:path";
import { compareArchiveNames, parseArchiveName, type ParsedArchiveName, V01_DEFAULT_LOCAL, type SovConfig, type Logger, type ArchiveRef, DirectoryStore } from "@sov/core";

/** A directory holding archives, and the destination name it is shown under. */
export interface ArchiveDir {
  destination: string;
  dir: string;
}

export interface ListedArchive extends ArchiveRef {
  readonly parsed: ParsedArchiveName;
}

export const DEFAULT_USB_MOUNT = "/mnt/sov-backup";
const LOCAL_PLUGINS = new Set(["local", "@sov/dest-local"]);
const USB_PLUGINS = new Set(["usb", "@sov/dest-usb"]);

/**
 * The directories of the config's destinations that restore can read today: `local` ones, and
 * the USB stick's archive directory when it is mounted (`$SOVEREIGN_BACKUP_USB_MOUNT`, default
 * /mnt/sov-backup, plus the `subdir` option). Other destinations are named in a notice.
 */
export async function configuredArchiveDirs(config: SovConfig, env: NodeJS.ProcessEnv, log: Logger): Promise<ArchiveDir[]> {
  const dirs: ArchiveDir[] = [];
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
      log.info(`destination ${dest.name} (${dest.plugin}): restore cannot list it yet; copy the archive here and pass its path`);
    }
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
  for (const [order, { destination, dir }] of dirs.entries()) {
    let refs: ArchiveRef[];
    try {
      refs = await new DirectoryStore(dir, destination, log).list();
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      log.warn(`destination ${destination}: cannot read ${dir}${code ? ` (${code})` : ""}`);
      continue;
    }
    for (const ref of refs) {
      const parsed = parseArchiveName(ref.name);
      if (parsed) found.push({ ...ref, parsed, order });
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
