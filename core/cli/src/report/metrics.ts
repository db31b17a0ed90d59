import type { SovState } from "./state.js";
import { writeFileAtomic } from "./atomic-file.js";

const esc = (v: string) => v.replace(/\\/g, "\\\\").replace(/"/g, '\\"').replace(/\n/g, "\\n");

/**
 * The node_exporter textfile collector format. `archives` is the count per destination after
 * this run's prune, where the run could list it.
 */
export function renderMetrics(state: SovState, archives: Record<string, number>): string {
  const run = state.lastRun;
  const host = `host="${esc(run.host)}"`;
  const lines: string[] = [];
  const metric = (name: string, help: string, type: "gauge" | "counter", samples: Array<[string, number]>) => {
    lines.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, value] of samples) lines.push(`${name}{${labels}} ${value}`);
  };
  const ts = (iso: string | null) => (iso ? Date.parse(iso) / 1000 : 0);
  metric("sov_last_run_timestamp_seconds", "When the last sov run finished.", "gauge", [[host, ts(run.finishedAt)]]);
  metric("sov_last_success_timestamp_seconds", "When the last fully successful sov run finished (0: never).", "gauge", [[host, ts(state.lastSuccessAt)]]);
  metric("sov_last_run_exit_code", "Exit code of the last run (0 ok, 1 failed, 2 config error, 10 lock held).", "gauge", [[host, run.exitCode]]);
  metric("sov_last_run_duration_seconds", "Wall time of the last run.", "gauge", [[host, run.durationSeconds]]);
  metric("sov_last_run_files_read", "Files read by the last run.", "gauge", [[host, run.filesRead]]);
  metric("sov_last_run_bytes_read", "Bytes of source data read by the last run.", "gauge", [[host, run.bytesRead]]);
  metric(
    "sov_last_run_bytes_written",
    "Archive bytes written per destination by the last run (0 when it failed there).",
    "gauge",
    run.destinations.map((d) => [`${host},destination="${esc(d.name)}"`, d.bytes ?? 0]),
  );
  metric(
    "sov_last_run_destination_ok",
    "1 if the last run committed an archive to the destination.",
    "gauge",
    run.destinations.map((d) => [`${host},destination="${esc(d.name)}"`, d.committed ? 1 : 0]),
  );
  metric(
    "sov_archives",
    "Archives of this host held by each destination.",
    "gauge",
    Object.entries(archives).map(([name, count]) => [`${host},destination="${esc(name)}"`, count]),
  );
  return `${lines.join("\n")}\n`;
}

export async function writeMetrics(path: string, state: SovState, archives: Record<string, number>): Promise<void> {
  await writeFileAtomic(path, renderMetrics(state, archives), 0o644);
}
