import type { RunResult } from "@sov/core";

/** The `--json` object and the state file's `lastRun`: one stable, documented shape. */
export interface RunReport {
  status: "ok" | "failed" | "dry-run";
  exitCode: number;
  host: string;
  startedAt: string;
  finishedAt: string;
  durationSeconds: number;
  filesRead: number;
  bytesRead: number;
  destinations: Array<{
    name: string;
    committed: boolean;
    archive: string | null;
    bytes: number | null;
    error: string | null;
  }>;
  pruned: string[];
  warnings: string[];
  error: string | null;
}

export function toReport(res: RunResult): RunReport {
  return {
    status: res.dryRun ? "dry-run" : res.exitCode === 0 ? "ok" : "failed",
    exitCode: res.exitCode,
    host: res.host,
    startedAt: res.startedAt.toISOString(),
    finishedAt: res.finishedAt.toISOString(),
    durationSeconds: Math.round((res.finishedAt.getTime() - res.startedAt.getTime()) / 10) / 100,
    filesRead: res.stats.files,
    bytesRead: res.stats.bytes,
    destinations: res.destinations.map((d) => ({
      name: d.destination,
      committed: !!d.archive,
      archive: d.archive?.location ?? null,
      bytes: d.archive?.size ?? null,
      error: d.error ?? null,
    })),
    pruned: res.pruned.map((p) => p.location),
    warnings: res.warnings,
    error: res.error ?? null,
  };
}
