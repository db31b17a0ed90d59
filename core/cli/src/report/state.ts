import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { RunReport } from "./json.js";
import { writeFileAtomic } from "./atomic-file.js";

export const DEFAULT_STATE_DIR = "/var/lib/sovereign-backup";

/** What survives between runs, for `sov status` and the metrics file. */
export interface SovState {
  lastRun: RunReport;
  /** The newest committed archive per destination, kept across failed runs. */
  newest: Record<string, { archive: string; bytes: number; at: string }>;
  lastSuccessAt: string | null;
}

/** Where sov keeps its state (and its compile cache): `$SOVEREIGN_BACKUP_STATE_DIR`, or the default. */
export function stateDir(env: NodeJS.ProcessEnv): string {
  return env.SOVEREIGN_BACKUP_STATE_DIR || DEFAULT_STATE_DIR;
}

export function stateFile(env: NodeJS.ProcessEnv): string {
  return join(stateDir(env), "last-run.json");
}

export async function readState(path: string): Promise<SovState | null> {
  try {
    return JSON.parse(await readFile(path, "utf8")) as SovState;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw err;
  }
}

/** Folds a run into the state and writes it atomically (0640, directory 0750). */
export async function recordRun(path: string, report: RunReport): Promise<SovState> {
  const previous = await readState(path).catch(() => null);
  const newest = { ...(previous?.newest ?? {}) };
  for (const d of report.destinations) {
    if (d.committed && d.archive) newest[d.name] = { archive: d.archive, bytes: d.bytes ?? 0, at: report.finishedAt };
  }
  const state: SovState = {
    lastRun: report,
    newest,
    lastSuccessAt: report.status === "ok" ? report.finishedAt : (previous?.lastSuccessAt ?? null),
  };
  await mkdir(join(path, ".."), { recursive: true, mode: 0o750 });
  await writeFileAtomic(path, `${JSON.stringify(state, null, 2)}\n`, 0o640);
  return state;
}
