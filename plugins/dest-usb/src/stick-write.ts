import { readdir, unlink, type FileHandle } from "node:fs/promises";
import type { Logger, ObjectWrite } from "@sov/core";

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
  readonly log: Logger;
  /** Why the stick can no longer be written through its mount point, or undefined if it still can. */
  goneReason(): Promise<string | undefined>;
  /** A handle on the archive directory, valid even after a lazy unmount detached it. */
  readonly directory: FileHandle | undefined;
}

/**
 * A temporary file on the stick, plus what a removable medium needs: errors that say what
 * happened to the stick, and the temporary removed through a directory handle when the stick
 * was unmounted under the run (the path would then reach the host's empty mount point).
 */
export function stickObjectWrite(inner: ObjectWrite, temporaryName: string, ctx: StickWriteContext): ObjectWrite {
  // Ahead of the core's listener, so the run's summary says what a failed write means here.
  inner.writable.prependListener("error", explainStickError);
  return {
    writable: inner.writable,
    discard: async () => {
      await inner.discard().catch(() => {});
      if (await ctx.goneReason()) await removeDetached(temporaryName, ctx);
    },
  };
}

async function removeDetached(temporaryName: string, ctx: StickWriteContext): Promise<void> {
  const dir = ctx.directory;
  if (!dir) return;
  const viaHandle = `/proc/self/fd/${dir.fd}`;
  try {
    if (!(await readdir(viaHandle)).includes(temporaryName)) return;
    await unlink(`${viaHandle}/${temporaryName}`);
    ctx.log.info(`removed ${temporaryName} from the detached stick`);
  } catch (err) {
    ctx.log.warn(`could not remove ${temporaryName} from the detached stick (${(err as Error).message}); the next run removes it`);
  }
}
