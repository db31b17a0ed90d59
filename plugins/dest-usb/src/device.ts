import { realpath, stat } from "node:fs/promises";
import { join } from "node:path";
import { execa } from "execa";

/** A block device, identified the way the kernel names it in /proc/self/mountinfo. */
export interface BlockDevice {
  /** The resolved device node, e.g. /dev/sdb1. */
  readonly path: string;
  readonly major: number;
  readonly minor: number;
}

export const BY_LABEL_DIR = "/dev/disk/by-label";

/** Raised when no device carries the label: the stick is not plugged in (exit 1 for the destination). */
export class DeviceNotFoundError extends Error {
  constructor(readonly label: string, message: string) {
    super(message);
    this.name = "DeviceNotFoundError";
  }
}

/**
 * The name udev gives the label under /dev/disk/by-label: ASCII outside `0-9A-Za-z#+-.:=@_`
 * is written as `\xNN` (so `MY STICK` is `MY\x20STICK`); other UTF-8 is kept.
 */
export function udevLabelName(label: string): string {
  let out = "";
  for (const ch of label) {
    const code = ch.codePointAt(0)!;
    out += code > 0x7f || /[0-9A-Za-z#+\-.:=@_]/.test(ch) ? ch : `\\x${code.toString(16).padStart(2, "0")}`;
  }
  return out;
}

/**
 * Finds the device whose filesystem carries `label`: /dev/disk/by-label where udev provides
 * it, else a fresh probe by blkid (`-c /dev/null`: no stale cache after a stick is reformatted).
 * Two devices with the same label are refused rather than guessed between.
 */
export async function findDeviceByLabel(label: string, opts: { byLabelDir?: string } = {}): Promise<BlockDevice> {
  const byLabel = join(opts.byLabelDir ?? BY_LABEL_DIR, udevLabelName(label));
  const viaUdev = await blockDevice(byLabel).catch(() => null);
  if (viaUdev) return viaUdev;

  // `LABEL="..."`: blkid strips the outer quotes (up to the last one), so any label passes intact.
  const res = await execa("blkid", ["-c", "/dev/null", "-o", "device", "-t", `LABEL="${label}"`], {
    reject: false,
    stdin: "ignore",
    env: { LC_ALL: "C" },
    timeout: 60_000,
  });
  if (res.failed && res.exitCode === undefined) {
    const missing = (res as { code?: string }).code === "ENOENT";
    throw new Error(missing ? "blkid is not installed (Debian: apt install util-linux); it finds the stick by label" : `blkid failed: ${res.shortMessage}`);
  }
  if (res.exitCode === 2) {
    throw new DeviceNotFoundError(label, `no device with filesystem label '${label}' (no ${byLabel}, and blkid found none): is the stick plugged in?`);
  }
  if (res.exitCode !== 0) throw new Error(`blkid -t LABEL=${label} failed (exit ${res.exitCode}): ${String(res.stderr).trim()}`);
  const devices = [...new Set(String(res.stdout).split("\n").map((l) => l.trim()).filter(Boolean))];
  if (devices.length === 0) {
    throw new DeviceNotFoundError(label, `no device with filesystem label '${label}': is the stick plugged in?`);
  }
  if (devices.length > 1) {
    throw new Error(`several devices carry the filesystem label '${label}' (${devices.join(", ")}); unplug all but one, or relabel one (e2label DEVICE NEWLABEL)`);
  }
  return blockDevice(devices[0]!);
}

/** Resolves symlinks and checks that `path` is a block device. */
export async function blockDevice(path: string): Promise<BlockDevice> {
  const resolved = await realpath(path);
  const st = await stat(resolved, { bigint: true });
  if (!st.isBlockDevice()) throw new Error(`${path} is not a block device`);
  return { path: resolved, ...splitDeviceNumber(st.rdev) };
}

/** glibc's major()/minor() for a Linux dev_t. */
export function splitDeviceNumber(dev: bigint): { major: number; minor: number } {
  return {
    major: Number(((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn)),
    minor: Number((dev & 0xffn) | ((dev >> 12n) & ~0xffn)),
  };
}
