import { lstat, mkdir, realpath } from "node:fs/promises";
import { createInterface } from "node:readline";
import { resolve } from "node:path";
import { formatStamp, ConfigError } from "@sov/core";

export interface PromptIO {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream;
}

export const DEFAULT_TARGET_PARENT = "/tmp";

/**
 * Where a restore writes. No TARGET: a new `/tmp/sovereign-restore-<stamp>` directory, 0700.
 * TARGET `/`: only after a person types YES at a terminal. A TARGET that is a symlink, or exists
 * and is not a directory, is refused (exit 2); a missing one is created 0700.
 */
export async function prepareTarget(target: string | undefined, io: PromptIO, what: string, now = new Date()): Promise<string> {
  if (target === undefined) return createDefaultTarget(now);
  const path = resolve(target);
  if (path === "/") await confirmRootRestore(io, what);
  const st = await lstat(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return null;
    throw new ConfigError(`restore target ${path}: ${err.code ?? err.message}`);
  });
  if (st?.isSymbolicLink()) throw new ConfigError(`restore target ${path} is a symlink; refusing (give the real directory)`);
  if (st && !st.isDirectory()) throw new ConfigError(`restore target ${path} exists and is not a directory`);
  if (!st) await mkdir(path, { recursive: true, mode: 0o700 });
  return realpath(path);
}

async function createDefaultTarget(now: Date): Promise<string> {
  const base = `${DEFAULT_TARGET_PARENT}/sovereign-restore-${formatStamp(now)}`;
  for (let n = 0; ; n++) {
    const path = n ? `${base}-${n}` : base;
    try {
      await mkdir(path, { mode: 0o700 });
      return path;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST" || n >= 100) throw err;
    }
  }
}

async function confirmRootRestore(io: PromptIO, what: string): Promise<void> {
  if (!io.stdin.isTTY) {
    throw new ConfigError("restoring to / needs a person to type YES at a terminal, and stdin is not a terminal; refused");
  }
  const rl = createInterface({ input: io.stdin, output: io.stderr, terminal: true });
  try {
    const answer = await new Promise<string>((done) => {
      rl.question(`This writes ${what} over / and replaces system files. Type YES to continue: `, done);
      rl.once("close", () => done(""));
    });
    if (answer.trim() !== "YES") throw new ConfigError("restore to / not confirmed (the answer was not YES); nothing written");
  } finally {
    rl.close();
  }
}
