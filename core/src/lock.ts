import { constants as fsc } from "node:fs";
import { chmod, lstat, mkdir, open, readFile, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { ConfigError, LockHeldError } from "./errors.js";
import type { Logger } from "./log.js";
import { isProcessAlive, processStartTime } from "./process-info.js";
import { checkTrustedDirectory } from "./trusted-path.js";

export const DEFAULT_LOCK_DIR = "/run/sovereign-backup/lock";

export interface RunLock {
  readonly path: string;
  release(): Promise<void>;
}

interface Holder {
  pid: number;
  start: string | null;
}

/**
 * The bash tool's lock: an atomic `mkdir`, a pid file inside, and stale-lock breaking. The pid
 * file also carries the holder's kernel start time, so a pid that was reused by an unrelated
 * process after a crash does not keep backups locked out forever.
 */
export async function acquireLock(lockDir: string, log: Logger): Promise<RunLock> {
  await prepareLockParent(dirname(lockDir));
  let breakMark: string | null = null;
  try {
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        await mkdir(lockDir, { mode: 0o700 });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") {
          throw new ConfigError(`cannot create lock ${lockDir}: ${(err as Error).message}`);
        }
        const holder = await readHolder(lockDir);
        if (holder === "starting") throw new LockHeldError(`another run is starting (lock ${lockDir})`);
        if (holder && isLive(holder)) {
          throw new LockHeldError(`another run (pid ${holder.pid}) holds ${lockDir}; use --once to run anyway`);
        }
        breakMark = (await breakStaleLock(lockDir, log)) ?? breakMark;
        continue;
      }
      const me: Holder = { pid: process.pid, start: processStartTime(process.pid) };
      await writeFile(join(lockDir, "pid"), `${me.pid} ${me.start ?? "-"}\n`, { mode: 0o600 });
      return {
        path: lockDir,
        release: async () => {
          const holder = await readHolder(lockDir);
          if (holder && holder !== "starting" && holder.pid === me.pid) await rm(lockDir, { recursive: true, force: true });
        },
      };
    }
    throw new LockHeldError(`could not take ${lockDir}: it keeps reappearing`);
  } finally {
    // The broken lock is gone for good: a late run's mark for it could never match a lock again.
    if (breakMark) await rm(breakMark, { force: true });
  }
}

/**
 * Removes a stale lock, unless another run got to it first; returns the mark it claimed it
 * with. Runs started together all see the same stale lock: each claims it with an O_EXCL mark
 * named after that lock (its pid file and the directory's inode and mtime), and only the one
 * that created the mark checks it again and removes it. Without the mark, a slower run would
 * remove the lock a faster one had just taken, and both would run.
 */
async function breakStaleLock(lockDir: string, log: Logger): Promise<string | null> {
  const identity = await lockIdentity(lockDir);
  if (identity === null) return null; // gone meanwhile: released or broken; try mkdir again
  const mark = `${lockDir}.broken-${identity}`;
  try {
    await (await open(mark, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600)).close();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw new ConfigError(`cannot break stale lock ${lockDir}: ${(err as Error).message}`);
    throw new LockHeldError(`another run is taking over the stale lock ${lockDir}`);
  }
  const holder = await readHolder(lockDir);
  const stillStale = holder !== "starting" && !(holder && isLive(holder)) && (await lockIdentity(lockDir)) === identity;
  if (!stillStale) {
    await rm(mark, { force: true });
    throw new LockHeldError(`another run took over the stale lock ${lockDir}`);
  }
  log.warn(`breaking stale lock ${lockDir}${holder ? ` (pid ${holder.pid} is gone)` : ""}`);
  await rm(lockDir, { recursive: true, force: true });
  return mark;
}

/** One lock directory for good: its pid file's content, inode and mtime. Null when there is none. */
async function lockIdentity(lockDir: string): Promise<string | null> {
  const st = await stat(lockDir, { bigint: true }).catch(() => null);
  if (!st) return null;
  const pid = await readFile(join(lockDir, "pid"), "utf8").catch(() => "");
  const holder = pid.trim().replace(/[^0-9]+/g, "-") || "nopid";
  return `${holder}-${st.ino}-${st.mtimeNs}`;
}

function isLive(holder: Holder): boolean {
  if (!isProcessAlive(holder.pid)) return false;
  if (holder.start === null) return true;
  const now = processStartTime(holder.pid);
  return now === null || now === holder.start;
}

/** Null means stale (no readable holder and old enough); "starting" means a pid file is about to appear. */
async function readHolder(lockDir: string): Promise<Holder | "starting" | null> {
  try {
    const [pid, start] = (await readFile(join(lockDir, "pid"), "utf8")).trim().split(/\s+/);
    const n = Number(pid);
    if (Number.isInteger(n) && n > 0) return { pid: n, start: start && start !== "-" ? start : null };
  } catch {
    // fall through: a lock dir without a pid file
  }
  const st = await stat(lockDir).catch(() => null);
  if (st && Date.now() - st.mtimeMs < 10_000) return "starting";
  return null;
}

/**
 * The lock's parent is a trust boundary: whoever can write it can block or spoof backups. sov
 * creates it root-owned 0750 and, as root, refuses one that someone else owns or can write.
 */
async function prepareLockParent(parent: string): Promise<void> {
  const existing = await lstat(parent).catch(() => null);
  if (!existing) {
    await mkdir(parent, { recursive: true, mode: 0o750 });
    await chmod(parent, 0o750);
    return;
  }
  if (!existing.isDirectory()) throw new ConfigError(`lock directory ${parent} is not a directory (or is a symlink)`);
  if (process.geteuid?.() !== 0) return;
  await checkTrustedDirectory(parent, "lock directory");
}
