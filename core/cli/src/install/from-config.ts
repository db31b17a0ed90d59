import { dirname, normalize } from "node:path";
import { type SovConfig, ConfigError, type Logger } from "@sov/core";
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

const LOCAL_PLUGINS = new Set(["local", "dest-local", "@sov/dest-local"]);
const USB_PLUGINS = new Set(["usb", "dest-usb", "@sov/dest-usb"]);

/**
 * Reads what the units need from a loaded config: which destinations the daily timer may write
 * (all but the USB stick), their directories, the stick's mount point and the schedule keys.
 */
export function unitOptionsFromConfig(config: SovConfig, install: { sovCommand: string; configPath: string | null }, log: Logger): UnitOptions {
  const backupTargets: string[] = [];
  const usbTargets: string[] = [];
  const localDestinations: string[] = [];
  const usbMountPoints: string[] = [];
  for (const d of config.destinations) {
    const where = `${config.file}: destination ${d.name}`;
    if (LOCAL_PLUGINS.has(d.plugin)) {
      if (typeof d.options.path !== "string") throw new ConfigError(`${where}: path must be a string`);
      const path = cleanPath(d.options.path, where);
      backupTargets.push(d.name);
      addOnce(localDestinations, path);
    } else if (USB_PLUGINS.has(d.plugin)) {
      // dest-usb's `mount` option; its $SOVEREIGN_BACKUP_USB_MOUNT fallback is not set in the units.
      const option = d.options.mount ?? SYSTEM_PATHS.usbMountPoint;
      if (typeof option !== "string") throw new ConfigError(`${where}: the mount point must be a string`);
      const mount = cleanPath(option, where);
      usbTargets.push(d.name);
      addOnce(usbMountPoints, mount);
    } else {
      backupTargets.push(d.name);
      log.warn(
        `${where} (plugin ${d.plugin}): sov install cannot tell what it writes on this host; ` +
          "if it writes a local path, add it with `systemctl edit sov-backup.service` (ReadWritePaths=...)",
      );
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
