import { readdir, unlink, type FileHandle } from "node:fs/promises";
import type { ArchiveMeta, ArchiveRef, Logger, StagedWrite } from "@sov/core";

/** What a failed write to a stick usually means, added to the error the run reports. */
const WRITE_ERROR_HINTS: Readonly<Record<string, string>> = {
  ENOSPC: "the stick is full: free space on it or lower its retention days",
  EDQUOT: "the stick is full: free space on it or lower its retention days",
  EIO: "I/O error: was the stick pulled out?",
  ENODEV: "the stick is gone: was it pulled out?",
  ENXIO: "the stick is gone: was it pulled out?",
  EROFS: "the stick's filesystem turned read-only, usually after an I/O error: check it with fsck",
};

/** Adds what an I/O error means for a stick to its message (once); returns the same error. */
export function explainStickError<E>(err: E): E {
  const e = err as NodeJS.ErrnoException;
  const hint = e instanceof Error ? WRITE_ERROR_HINTS[e.code ?? ""] : undefined;
  if (hint && !e.message.includes(hint)) e.message = `${e.message} (${hint})`;
  return err;
}

export interface StickWriteContext {
  readonly archiveName: string;
  readonly log: Logger;
  /** Why the stick can no longer be written through its mount point, or undefined if it still can. */
  goneReason(): Promise<string | undefined>;
  /** A handle on the archive directory, valid even after a lazy unmount detached it. */
  readonly directory: FileHandle | undefined;
}

/**
 * The DirectoryStore's staged write, plus what a removable medium needs: errors that say what
 * happened to the stick, no commit once the stick has left its mount point (the link would
 * resolve on the host's disk), and the temporary file removed through a directory handle when
 * its path no longer reaches it.
 */
export class StickStagedWrite implements StagedWrite {
  constructor(
    private readonly inner: StagedWrite,
    private readonly ctx: StickWriteContext,
  ) {
    // Ahead of the core's listener, so the run's summary says what a failed write means here.
    inner.writable.prependListener("error", explainStickError);
  }

  get writable() {
    return this.inner.writable;
  }

  async commit(meta?: ArchiveMeta): Promise<ArchiveRef> {
    const gone = await this.ctx.goneReason();
    if (gone) {
      await this.abort();
      throw new Error(`${gone}; nothing was committed on it`);
    }
    return this.inner.commit(meta).catch((err: unknown) => Promise.reject(explainStickError(err)));
  }

  async abort(): Promise<void> {
    await this.inner.abort();
    if (await this.ctx.goneReason()) await this.removeDetachedTemporary();
  }

  /** The store's own cleanup unlinks by path, which misses a stick that was unmounted under us. */
  private async removeDetachedTemporary(): Promise<void> {
    const dir = this.ctx.directory;
    if (!dir) return;
    const viaHandle = `/proc/self/fd/${dir.fd}`;
    try {
      const mine = (await readdir(viaHandle)).filter((n) => n.startsWith(`${this.ctx.archiveName}.`) && n.endsWith(`.${process.pid}.tmp`));
      for (const name of mine) {
        await unlink(`${viaHandle}/${name}`);
        this.ctx.log.info(`removed ${name} from the detached stick`);
      }
    } catch (err) {
      this.ctx.log.warn(`could not remove the temporary file from the detached stick (${(err as Error).message}); the next run removes it`);
    }
  }
}
