import { createHash } from "node:crypto";
import { lstat, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { BlockDevice } from "./device.js";

/** Where sov keeps its run state: the lock's parent (root's, checked by the lock). */
const DEFAULT_LOCK_DIR = "/run/sovereign-backup/lock";

/**
 * A note that sov mounted a stick, kept under the lock's parent (`usb-mounts/`) while it is
 * mounted. After kill -9 the stick stays mounted; the next run finds the note naming the same
 * device and mount point, knows the mount is sov's (not the user's), and unmounts it at the end.
 */
export interface MountMarker {
  readonly device: string;
  readonly major: number;
  readonly minor: number;
  readonly mountPoint: string;
  readonly pid: number;
}

export function markerDirectory(env: NodeJS.ProcessEnv): string {
  return join(dirname(env.SOVEREIGN_BACKUP_LOCKDIR || DEFAULT_LOCK_DIR), "usb-mounts");
}

function markerFile(dir: string, mountPoint: string): string {
  return join(dir, `${createHash("sha256").update(mountPoint).digest("hex").slice(0, 32)}.json`);
}

export async function writeMountMarker(dir: string, device: BlockDevice, mountPoint: string): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const marker: MountMarker = { device: device.path, major: device.major, minor: device.minor, mountPoint, pid: process.pid };
  await writeFile(markerFile(dir, mountPoint), `${JSON.stringify(marker)}\n`, { mode: 0o600 });
}

/** True when a note says sov mounted exactly this device at exactly this mount point. */
export async function mountedBySov(dir: string, device: BlockDevice, mountPoint: string): Promise<MountMarker | null> {
  const file = markerFile(dir, mountPoint);
  const st = await lstat(file).catch(() => null);
  // Only a plain file sov could have written: root's when sov runs as root.
  if (!st?.isFile() || (process.geteuid?.() === 0 && st.uid !== 0)) return null;
  try {
    const marker = JSON.parse(await readFile(file, "utf8")) as MountMarker;
    const same = marker.mountPoint === mountPoint && marker.major === device.major && marker.minor === device.minor;
    return same ? marker : null;
  } catch {
    return null;
  }
}

export async function removeMountMarker(dir: string, mountPoint: string): Promise<void> {
  await rm(markerFile(dir, mountPoint), { force: true });
}
