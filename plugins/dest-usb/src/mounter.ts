import { setTimeout as sleep } from "node:timers/promises";
import { execa } from "execa";
import type { Logger } from "@sov/core";

/** The stick holds only encrypted archives: nothing on it is a device, setuid or run. */
export const MOUNT_OPTIONS = "nodev,nosuid,noexec";

/** Delays between `umount` attempts while the mount is busy: about five seconds in all. */
const UMOUNT_RETRY_MS = [100, 200, 400, 800, 1000, 1000, 1500];

const COMMAND_TIMEOUT_MS = 120_000;

interface CommandResult {
  ok: boolean;
  message: string;
}

/** Runs a system command without a shell, in the C locale so its messages can be matched. */
async function run(command: string, args: string[]): Promise<CommandResult> {
  const res = await execa(command, args, {
    reject: false,
    stdin: "ignore",
    env: { LC_ALL: "C" },
    timeout: COMMAND_TIMEOUT_MS,
  });
  if (!res.failed) return { ok: true, message: "" };
  const stderr = String(res.stderr ?? "").trim();
  if (res.exitCode === undefined) {
    const missing = (res as { code?: string }).code === "ENOENT";
    return { ok: false, message: missing ? `${command} is not installed (Debian: apt install mount util-linux)` : (res.shortMessage ?? `${command} failed`) };
  }
  return { ok: false, message: stderr || `${command} exited ${res.exitCode}` };
}

export async function mountDevice(device: string, mountPoint: string, fsType: string | undefined): Promise<CommandResult> {
  return run("mount", ["-o", MOUNT_OPTIONS, ...(fsType ? ["-t", fsType] : []), "--", device, mountPoint]);
}

/** Writes back everything cached for the filesystem that holds `path` (syncfs(2)). */
export async function syncFilesystem(path: string): Promise<CommandResult> {
  return run("sync", ["-f", "--", path]);
}

/**
 * Unmounts `mountPoint`, retrying for a few seconds while it is busy (a file still closing).
 * Never lazily (`umount -l`): that would report success while the stick is still being written.
 */
export async function unmount(mountPoint: string, log: Logger): Promise<CommandResult> {
  let res = await run("umount", ["--", mountPoint]);
  for (const delay of UMOUNT_RETRY_MS) {
    if (res.ok || !/busy/i.test(res.message)) return res;
    log.debug(`${mountPoint} is busy; retrying umount in ${delay} ms`);
    await sleep(delay);
    res = await run("umount", ["--", mountPoint]);
  }
  return res;
}
