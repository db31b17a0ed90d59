import { loadConfig, ConfigError, ExitCode, type Logger } from "@sov/core";
import { readState, stateFile } from "./state.js";

export const STATUS_STALE = 3;

/**
 * `sov status`: a monitoring check. 0 when the last run succeeded and every destination's newest
 * archive is younger than the threshold; 1 when the last run failed; 3 when an archive is too
 * old or no run was ever recorded.
 */
export async function commandStatus(opts: {
  configPath?: string | undefined;
  maxAge?: string | undefined;
  json: boolean;
  env: NodeJS.ProcessEnv;
  log: Logger;
}): Promise<number> {
  const config = await loadConfig({ configPath: opts.configPath, env: opts.env, log: opts.log });
  const maxAgeHours = opts.maxAge !== undefined ? Number(opts.maxAge) : config.maxArchiveAgeHours;
  if (!Number.isFinite(maxAgeHours) || maxAgeHours <= 0) throw new ConfigError(`--max-age ${opts.maxAge}: give a number of hours`);
  const path = stateFile(opts.env);
  const state = await readState(path);
  const now = Date.now();
  const problems: string[] = [];
  let code: number = ExitCode.ok;
  if (!state) {
    problems.push(`no run recorded in ${path}`);
    code = STATUS_STALE;
  } else if (state.lastRun.exitCode !== 0) {
    problems.push(`last run failed (exit ${state.lastRun.exitCode}): ${state.lastRun.error ?? "see the log"}`);
    code = ExitCode.failed;
  }
  const destinations = config.destinations.map((d) => {
    const newest = state?.newest[d.name];
    const ageHours = newest ? (now - Date.parse(newest.at)) / 3_600_000 : null;
    const configuredTarget = config.defaultTargets.includes(d.name);
    if (configuredTarget && (ageHours === null || ageHours > maxAgeHours)) {
      problems.push(newest ? `${d.name}: newest archive is ${ageHours!.toFixed(1)} h old (limit ${maxAgeHours} h)` : `${d.name}: no archive recorded`);
      if (code === ExitCode.ok) code = STATUS_STALE;
    }
    return { name: d.name, newest: newest?.archive ?? null, bytes: newest?.bytes ?? null, at: newest?.at ?? null, ageHours };
  });
  if (opts.json) {
    process.stdout.write(`${JSON.stringify({ exitCode: code, host: config.host, maxAgeHours, lastRun: state?.lastRun ?? null, destinations, problems }, null, 2)}\n`);
    return code;
  }
  const out = (line: string) => process.stdout.write(`${line}\n`);
  out(`host: ${config.host}`);
  if (state) {
    const r = state.lastRun;
    out(`last run: ${r.status} (exit ${r.exitCode}) at ${r.finishedAt}, ${r.durationSeconds}s, ${r.filesRead} files`);
    out(`last success: ${state.lastSuccessAt ?? "never"}`);
  }
  for (const d of destinations) {
    out(`${d.name}: ${d.newest ? `${d.newest} (${d.ageHours!.toFixed(1)} h old)` : "no archive recorded"}`);
  }
  out(problems.length ? `PROBLEM: ${problems.join("; ")}` : "OK");
  return code;
}
