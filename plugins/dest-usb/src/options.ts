import { isAbsolute, normalize } from "node:path";
import { ConfigError } from "@sov/core";

/** The options as the config gives them (v0.1: `usb_label`, `usb_subdir`; v2: the destination block). */
export interface UsbOptions {
  /** The stick's filesystem label (`mkfs.ext4 -L SOVBACKUP`). */
  label: string;
  /** The archive directory on the stick, relative to its root. */
  subdir?: string;
  /** Where the stick is mounted; `$SOVEREIGN_BACKUP_USB_MOUNT` or /mnt/sov-backup when unset. */
  mount?: string;
  /** Passed to `mount -t`; mount(8) detects the type when unset. */
  fs_type?: string;
}

/** The options after defaults and checks: every path absolute and normalized. */
export interface ResolvedUsbOptions {
  readonly label: string;
  readonly subdir: string;
  readonly mount: string;
  readonly fsType: string | undefined;
}

export const DEFAULT_SUBDIR = "sovereign-backup";
export const DEFAULT_MOUNT = "/mnt/sov-backup";
export const MOUNT_ENV = "SOVEREIGN_BACKUP_USB_MOUNT";

/** No control characters (C0, DEL, C1); they would garble logs and device paths. */
const NO_CONTROL = "^[^\\u0000-\\u001f\\u007f-\\u009f]+$";

/**
 * Checked by ajv before `apply()`, so a bad value is reported with its config line. The rules
 * that need a sentence to explain (`..`, absolute paths) are checked in `resolveUsbOptions`.
 */
export const optionsSchema = {
  type: "object",
  required: ["label"],
  properties: {
    label: { type: "string", minLength: 1, maxLength: 255, pattern: "^[^/\\u0000-\\u001f\\u007f-\\u009f]+$" },
    subdir: { type: "string", minLength: 1, maxLength: 1024, pattern: NO_CONTROL },
    mount: { type: "string", minLength: 1, maxLength: 1024, pattern: NO_CONTROL },
    fs_type: { type: "string", pattern: "^[a-z0-9][a-z0-9._+-]*$", maxLength: 64 },
  },
  additionalProperties: false,
} as const;

/** Applies the defaults and refuses what the schema cannot explain well; throws ConfigError (exit 2). */
export function resolveUsbOptions(destination: string, options: UsbOptions, env: NodeJS.ProcessEnv = process.env): ResolvedUsbOptions {
  const fail = (message: string) => new ConfigError(`destination ${destination}: ${message}`);
  const { label } = options;
  if (typeof label !== "string" || !new RegExp(optionsSchema.properties.label.pattern, "u").test(label)) {
    throw fail(`label ${JSON.stringify(label)} must be a filesystem label without '/' or control characters`);
  }
  if (label === "." || label === "..") throw fail(`label '${label}' is not a filesystem label`);

  const subdir = options.subdir ?? DEFAULT_SUBDIR;
  if (isAbsolute(subdir)) throw fail(`subdir ${subdir} must be relative to the stick's root (e.g. ${DEFAULT_SUBDIR})`);
  if (subdir.split("/").includes("..")) throw fail(`subdir ${subdir} must not contain '..'`);
  const cleanSubdir = normalize(subdir).replace(/\/+$/, "");

  const fromEnv = env[MOUNT_ENV];
  const mount = options.mount ?? (fromEnv ? fromEnv : DEFAULT_MOUNT);
  const mountSource = options.mount !== undefined ? "mount" : fromEnv ? `$${MOUNT_ENV}` : "the default mount point";
  if (!isAbsolute(mount)) throw fail(`${mountSource} ${mount} must be an absolute path`);
  if (mount.split("/").includes("..")) throw fail(`${mountSource} ${mount} must not contain '..'`);
  const cleanMount = normalize(mount).replace(/(.)\/+$/, "$1");
  if (cleanMount === "/") throw fail(`${mountSource} cannot be /`);

  return { label, subdir: cleanSubdir === "." ? "" : cleanSubdir, mount: cleanMount, fsType: options.fs_type };
}
