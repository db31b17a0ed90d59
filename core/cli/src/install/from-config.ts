import { dirname, normalize } from "node:path";
import { configuredDestinations, type SovConfig, type Logger, type StoreFeatures } from "@sov/core";
import { scheduleFromConfig } from "./schedule.js";
import type { UnitOptions } from "./units.js";
import { checkPath } from "./unit-syntax.js";

/** Where things live on the running system; `--prefix` only changes where install writes them. */
export const SYSTEM_PATHS = {
  bin: "/usr/local/bin",
  units: "/etc/systemd/system",
  configDir: "/etc/sovereign-backup",
  runtime: "/run/sovereign-backup",
  state: "/var/lib/sovereign-backup",
  usbMountPoint: "/mnt/sov-backup",
  /** The same file as cli.ts's DEFAULT_LOG_FILE (not imported: cli.ts imports this module). */
  logFile: "/var/log/sovereign-backup.log",
} as const;

/** What install needs of a destination: its name and what its store declares. */
export interface InstalledDestination {
  readonly name: string;
  readonly features: StoreFeatures;
}

/** Loads the config's destination plugins (nothing else, touching no storage) for their features. */
export async function installedDestinations(config: SovConfig, log: Logger): Promise<InstalledDestination[]> {
  const destinations = await configuredDestinations(config, log);
  return destinations.map((d) => ({ name: d.block.name, features: d.store.features }));
}

/**
 * Reads what the units need from a loaded config and what its destinations declare (see
 * `configuredDestinations`): which destinations the daily timer may write (all but a removable
 * one), the local directories to grant, the mount points and the schedule keys. It names no
 * plugin: a third-party destination with a `localPath` is granted it like dest-local.
 */
export function unitOptionsFromConfig(
  config: SovConfig,
  destinations: readonly InstalledDestination[],
  install: { sovCommand: string; configPath: string | null },
  log: Logger,
): UnitOptions {
  const backupTargets: string[] = [];
  const usbTargets: string[] = [];
  const localDestinations: string[] = [];
  const usbMountPoints: string[] = [];
  for (const d of destinations) {
    const where = `${config.file}: destination ${d.name}`;
    const { localPath, removable } = d.features;
    if (removable) {
      usbTargets.push(d.name);
      addOnce(usbMountPoints, cleanPath(removable.mountPoint, where));
    } else {
      backupTargets.push(d.name);
      // A store that writes on this host says where (features.localPath); the unit grants it.
      if (localPath) addOnce(localDestinations, cleanPath(localPath, where));
    }
  }
  if (usbMountPoints.length === 0) usbMountPoints.push(SYSTEM_PATHS.usbMountPoint);
  const optionalWritablePaths: string[] = [];
  // Read loosely: the metrics key is newer than this module and may move.
  const metrics = (config as { metricsTextfile?: unknown }).metricsTextfile;
  if (typeof metrics === "string" && metrics) {
    checkPath(metrics, `${config.file}: metrics_textfile`);
    // The file is replaced by rename, so its directory must be writable.
    optionalWritablePaths.push(dirname(metrics));
  }
  const schedule = scheduleFromConfig(config.schedule ?? {}, config.file, log);
  return {
    sovCommand: install.sovCommand,
    configPath: install.configPath,
    backupTargets,
    usbTargets,
    localDestinations,
    optionalWritablePaths,
    usbMountPoints,
    logFile: SYSTEM_PATHS.logFile,
    schedule,
  };
}

/** Checked for the unit file, without doubled or trailing slashes (systemd compares paths literally). */
function cleanPath(path: string, where: string): string {
  checkPath(path, where);
  return normalize(path).replace(/(.)\/+$/, "$1");
}

function addOnce(list: string[], value: string): void {
  if (!list.includes(value)) list.push(value);
}
