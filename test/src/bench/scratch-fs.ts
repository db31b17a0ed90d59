/**
 * A fresh ext4 file system for every timed restore, so no run pays for the one before it.
 *
 * Restoring into a directory on the bench's own disk measured ext4 more than the restorers:
 * after `rm -rf` of the previous run's 200,000 files, ext4 skips inodes freed in the last
 * minute (`recently_deleted()` in ialloc.c) and rescans them on every file it creates, so a
 * restore that followed a removal spent up to 90 s in the kernel where one on a fresh file
 * system spends 7 (GNU tar and sov alike; `perf` showed `find_inode_bit`). Which of the two
 * came second decided the ratio.
 *
 * As root with `losetup` and `mkfs.ext4` there, each `fresh()` makes a new sparse image under
 * `dir`, formats it with its inode tables written out (no lazy init in the background during a
 * run), attaches it with direct I/O (no second page cache) and mounts it. Otherwise it falls
 * back to a directory on the bench's disk, and says so.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { hasTool } from "../helpers.js";

const MiB = 1024 * 1024;

export interface ScratchSize {
  /** File content the restores write. */
  bytes: number;
  /** Entries they create. */
  entries: number;
}

export class ScratchFilesystem {
  /** Where the restores write: an empty directory inside the fresh file system. */
  readonly target: string;
  /** Set when there is no fresh file system, with why (printed once per scenario). */
  readonly fallback: string | null;
  private readonly image: string;
  private readonly mountPoint: string;
  private loopDevice: string | null = null;

  constructor(
    dir: string,
    private readonly size: ScratchSize,
  ) {
    this.image = join(dir, "scratch.ext4");
    this.mountPoint = join(dir, "scratch");
    this.target = join(this.mountPoint, "tree");
    this.fallback = unavailable();
  }

  /** Drops what the last restore wrote and leaves `target` as a new empty directory. */
  fresh(): void {
    this.release();
    mkdirSync(this.mountPoint, { recursive: true });
    if (this.fallback) {
      mkdirSync(this.target);
      return;
    }
    // Room for the content in 4 KiB blocks, and inodes for every entry; the image is sparse.
    const inodes = Math.ceil(this.size.entries * 1.1) + 16_384;
    const bytes = Math.max(1024 * MiB, Math.ceil((this.size.bytes * 1.3 + this.size.entries * 4096 + inodes * 256) / MiB) * MiB + 512 * MiB);
    writeFileSync(this.image, "");
    truncateSync(this.image, bytes);
    execFileSync("mkfs.ext4", ["-q", "-F", "-N", String(inodes), "-E", "lazy_itable_init=0,lazy_journal_init=0", this.image]);
    this.loopDevice = execFileSync("losetup", ["--find", "--show", "--direct-io=on", this.image], { encoding: "utf8" }).trim();
    execFileSync("mount", ["-t", "ext4", this.loopDevice, this.mountPoint]);
    mkdirSync(this.target);
    execFileSync("sync");
  }

  /** Unmounts and deletes the file system (or the fallback directory). */
  release(): void {
    if (this.loopDevice) {
      spawnSync("umount", ["-d", this.mountPoint]);
      this.loopDevice = null;
    }
    rmSync(this.mountPoint, { recursive: true, force: true });
    rmSync(this.image, { force: true });
  }
}

function unavailable(): string | null {
  if (process.getuid?.() !== 0) return "not root";
  const missing = ["losetup", "mkfs.ext4", "mount"].find((tool) => !hasTool(tool));
  return missing ? `${missing} is missing` : null;
}

/** Unmounts (and detaches) file systems an interrupted bench left mounted under `dir`. */
export function unmountLeftovers(dir: string): void {
  const mounts = readFileSync("/proc/self/mounts", "utf8").split("\n").map((line) => line.split(" ")[1] ?? "");
  for (const point of mounts.filter((p) => p.startsWith(`${dir}/`)).reverse()) spawnSync("umount", ["-d", point]);
}
