import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { IN_CI, needRoot, needTools, scratch } from "../helpers.js";

/** A USB stick made of an ext4 image on a loop device. */
export interface Stick {
  readonly label: string;
  readonly image: string;
  readonly device: string;
}

/** Sticks for one test, a mount point for sov, and the cleanup that runs before the scratch directory goes. */
export interface StickLab {
  readonly dir: string;
  /** `$SOVEREIGN_BACKUP_USB_MOUNT` for the runs of this test. */
  readonly mountPoint: string;
  create(opts?: { sizeMiB?: number; label?: string }): Stick;
  /** Mounts `stick` at `at` (by hand, as a user would). */
  mount(stick: Stick, at: string, options?: string): void;
  /** What is mounted at `path` right now, as `source fstype`, or null. */
  mountedAt(path: string): string | null;
  /** The per-mount options (`rw`, `nosuid`, ...) of what is mounted at `path`, or null. */
  mountOptions(path: string): string[] | null;
  /** Mounts the stick read-only elsewhere, hands its root to `look`, unmounts. */
  inspect<T>(stick: Stick, look: (root: string) => T): T;
}

/** A label no leftover of an earlier or parallel run carries: ext4 labels hold 16 bytes. */
export function uniqueLabel(): string {
  return `SOVT${randomBytes(5).toString("hex").toUpperCase()}`;
}

/**
 * Root, the tools and a free loop device, or the test skips with the reason (fails in CI).
 * Cleanup is registered before the scratch directory's removal, so mounts are gone first.
 */
export function stickLab(t: TestContext): StickLab | null {
  if (!needRoot(t)) return null;
  if (!needTools(t, "losetup", "mkfs.ext4", "blkid", "mount", "umount")) return null;
  const probe = spawnSync("losetup", ["--find"], { encoding: "utf8" });
  if (probe.status !== 0) {
    const reason = `no loop device available (losetup --find: ${(probe.stderr || probe.error?.message || "").trim()})`;
    if (IN_CI) throw new Error(`CI needs loop devices: ${reason}; .ci/run should modprobe loop`);
    t.skip(reason);
    return null;
  }

  const devices: string[] = [];
  let dir = "";
  t.after(() => cleanUp(dir, devices));
  dir = scratch(t, "usb");
  const mountPoint = join(dir, "mnt");

  const lab: StickLab = {
    dir,
    mountPoint,
    create({ sizeMiB = 64, label = uniqueLabel() } = {}) {
      const image = join(dir, `${label}.img`);
      execFileSync("truncate", ["-s", `${sizeMiB}M`, image]);
      execFileSync("mkfs.ext4", ["-q", "-F", "-L", label, image], { stdio: ["ignore", "ignore", "pipe"] });
      const device = execFileSync("losetup", ["--find", "--show", image], { encoding: "utf8" }).trim();
      devices.push(device);
      return { label, image, device };
    },
    mount(stick, at, options = "rw") {
      mkdirSync(at, { recursive: true });
      execFileSync("mount", ["-o", options, stick.device, at]);
    },
    mountedAt(path) {
      const line = mountLines().find((f) => f.mountPoint === path);
      return line ? `${line.source} ${line.fsType}` : null;
    },
    mountOptions(path) {
      return mountLines().find((f) => f.mountPoint === path)?.options ?? null;
    },
    inspect(stick, look) {
      const at = join(dir, `inspect-${randomBytes(3).toString("hex")}`);
      lab.mount(stick, at, "ro");
      try {
        return look(at);
      } finally {
        execFileSync("umount", [at]);
      }
    },
  };
  return lab;
}

interface MountLine {
  mountPoint: string;
  options: string[];
  fsType: string;
  source: string;
}

/** /proc/self/mountinfo, enough of it for tests (the paths used here have no spaces). */
function mountLines(): MountLine[] {
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      const f = line.split(" ");
      const dash = f.indexOf("-", 6);
      return { mountPoint: f[4]!, options: f[5]!.split(","), fsType: f[dash + 1]!, source: f[dash + 2]! };
    });
}

/** Unmounts everything under `dir` or from the test's devices (deepest first), then detaches them. */
function cleanUp(dir: string, devices: string[]): void {
  const ours = mountLines()
    .filter((m) => (dir && m.mountPoint.startsWith(`${dir}/`)) || devices.includes(m.source))
    .sort((a, b) => b.mountPoint.length - a.mountPoint.length);
  for (const m of ours) {
    // A test that failed may leave a busy mount; lazily detaching it is fine for a throwaway image.
    if (spawnSync("umount", [m.mountPoint]).status !== 0) spawnSync("umount", ["-l", m.mountPoint]);
  }
  for (const device of devices) spawnSync("losetup", ["-d", device]);
}
