import { chmod, lstat, mkdir, open, readFile, rename, rm, stat } from "node:fs/promises";
import type { Stats } from "node:fs";
import { basename, dirname, join } from "node:path";
import { RunError, type Logger } from "@sov/core";

/** One thing install did (or, with --dry-run, would do). */
export interface InstallChange {
  readonly action: "create" | "update" | "chmod" | "write-new" | "move-aside";
  readonly path: string;
}

const octal = (mode: number) => `0${(mode & 0o7777).toString(8)}`;

/**
 * The idempotent file operations of `sov install`. Each compares what is there with what should
 * be, changes only what differs and says what it did; with `dryRun` it only says it. Files are
 * replaced by writing a temporary file beside them and renaming it over, so an existing symlink
 * is replaced, never written through, and a crash leaves the old file or the new one.
 */
export class InstallActions {
  readonly changes: InstallChange[] = [];

  constructor(
    private readonly dryRun: boolean,
    private readonly log: Logger,
  ) {}

  private say(message: string): void {
    this.log.info(this.dryRun ? `would ${message}` : message);
  }

  private changed(action: InstallChange["action"], path: string, message: string): void {
    this.changes.push({ action, path });
    this.say(message);
  }

  /** A directory with `mode`; an existing one gets `mode` only when `enforceMode` (never a mount point). */
  async directory(path: string, mode: number, enforceMode: boolean): Promise<void> {
    const st = await statOrNull(path, stat);
    if (!st) {
      if (!this.dryRun) {
        await mkdir(dirname(path), { recursive: true, mode: 0o755 });
        await mkdir(path, { mode });
        await chmod(path, mode);
      }
      this.changed("create", path, `create ${path}/ (${octal(mode)})`);
      return;
    }
    if (!st.isDirectory()) throw new RunError(`${path} exists and is not a directory; move it away and re-run sov install`);
    if (enforceMode && (st.mode & 0o7777) !== mode) {
      if (!this.dryRun) await chmod(path, mode);
      this.changed("chmod", path, `chmod ${path}/ ${octal(st.mode)} -> ${octal(mode)}`);
      return;
    }
    this.log.info(`unchanged ${path}/`);
  }

  /**
   * A file that install owns: rewritten when its content or mode differs. `moveAsideForeign`
   * says whether an existing file was someone else's and is kept as `<path>.pre-sov`.
   */
  async file(
    path: string,
    content: string,
    mode: number,
    opts: { moveAsideForeign?: (existing: string) => boolean; action?: InstallChange["action"] } = {},
  ): Promise<boolean> {
    const st = await statOrNull(path, lstat);
    if (st && !st.isFile() && !st.isSymbolicLink()) throw new RunError(`${path} exists and is not a regular file; move it away and re-run sov install`);
    if (st?.isFile()) {
      const existing = await readFile(path, "utf8");
      if (existing === content) {
        if ((st.mode & 0o7777) === mode) {
          this.log.info(`unchanged ${path}`);
          return false;
        }
        if (!this.dryRun) await chmod(path, mode);
        this.changed("chmod", path, `chmod ${path} ${octal(st.mode)} -> ${octal(mode)}`);
        return true;
      }
      if (opts.moveAsideForeign?.(existing)) await this.moveAside(path);
    }
    if (!this.dryRun) await writeAtomically(path, content, mode);
    const what = !st ? "create" : st.isSymbolicLink() ? "replace symlink" : "update";
    this.changed(opts.action ?? (st ? "update" : "create"), path, `${what} ${path} (${octal(mode)})`);
    return true;
  }

  /** A file that belongs to the operator once it exists: created when missing, never rewritten. */
  async fileIfAbsent(path: string, content: string, mode: number): Promise<boolean> {
    const st = await statOrNull(path, lstat);
    if (st) {
      this.log.info(`unchanged ${path}`);
      return false;
    }
    if (!this.dryRun) {
      await mkdir(dirname(path), { recursive: true, mode: 0o755 });
      await writeAtomically(path, content, mode, { exclusive: true });
    }
    this.changed("create", path, `create ${path} (${octal(mode)})`);
    return true;
  }

  private async moveAside(path: string): Promise<void> {
    const aside = `${path}.pre-sov`;
    if (await statOrNull(aside, lstat)) return;
    if (!this.dryRun) await rename(path, aside);
    this.changed("move-aside", aside, `move ${path} (not written by sov install) to ${aside}`);
  }

  /** The shipped example beside an operator's config (`<config>.new`); the config itself is never written. */
  async proposal(kept: string, path: string, content: string, mode: number): Promise<void> {
    if (await this.file(path, content, mode, { action: "write-new" })) {
      this.log.info(`  ${kept} differs from the shipped example and is kept as it is; compare: diff ${kept} ${path}`);
    }
  }
}

async function statOrNull(path: string, how: (p: string) => Promise<Stats>): Promise<Stats | null> {
  try {
    return await how(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new RunError(`cannot inspect ${path}: ${(err as Error).message}`);
  }
}

/** Temp file beside the target, fsync, rename over, fsync the directory. */
async function writeAtomically(path: string, content: string, mode: number, opts: { exclusive?: boolean } = {}): Promise<void> {
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.sov-install-${process.pid}`);
  try {
    const fh = await open(tmp, "wx", mode);
    try {
      await fh.writeFile(content);
      await fh.chmod(mode);
      await fh.sync();
    } finally {
      await fh.close();
    }
    if (opts.exclusive && (await statOrNull(path, lstat))) throw new RunError(`${path} appeared while sov install was writing it; left alone`);
    await rename(tmp, path);
    const dh = await open(dir, "r");
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
  } catch (err) {
    await rm(tmp, { force: true });
    if (err instanceof RunError) throw err;
    throw new RunError(`cannot write ${path}: ${(err as Error).message}`);
  }
}
