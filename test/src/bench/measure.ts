/**
 * Runs one command as a child process under GNU time and returns its wall time, CPU time and
 * peak RSS. GNU time reports the rusage of the child it waited for, which includes every
 * descendant the child waited for: user+sys is the CPU of the whole tree, and max RSS is that
 * of the largest single process in it (getrusage(2), RUSAGE_CHILDREN). For `sov` the largest
 * process is node itself (worker threads and zstd's threads live inside it); for the reference
 * pipeline it is whichever of tar, zstd and age peaked highest.
 */
import { spawn } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { LOOP_OUT_ENV, type LoopStats } from "./loop-monitor.js";

export const GNU_TIME = "/usr/bin/time";

export interface Sample {
  wallS: number;
  cpuS: number;
  rssMiB: number;
  /** Only for commands run with the event-loop monitor preloaded. */
  loop?: LoopStats;
}

export interface Command {
  /** Shown in errors and log file names. */
  label: string;
  argv: string[];
  env?: NodeJS.ProcessEnv;
  /** Preload loop-monitor.js into this (node) command and collect its figures. */
  monitorLoop?: boolean;
}

export class CommandFailed extends Error {
  override readonly name = "CommandFailed";
}

/** Runs `cmd`; stdout and stderr go to `<logDir>/<tag>.out|.err`. Throws on a non-zero exit. */
export async function measure(cmd: Command, logDir: string, tag: string): Promise<Sample> {
  const timeFile = join(logDir, `${tag}.time`);
  const loopFile = join(logDir, `${tag}.loop.json`);
  const outFile = join(logDir, `${tag}.out`);
  const errFile = join(logDir, `${tag}.err`);
  rmSync(loopFile, { force: true });
  const env = { ...process.env, ...cmd.env, ...(cmd.monitorLoop ? { [LOOP_OUT_ENV]: loopFile } : {}) };
  const out = openSync(outFile, "w");
  const err = openSync(errFile, "w");
  const started = process.hrtime.bigint();
  let code: number | null;
  let signal: NodeJS.Signals | null;
  try {
    const child = spawn(GNU_TIME, ["-f", "%e %U %S %M", "-o", timeFile, "--", ...cmd.argv], { env, stdio: ["ignore", out, err] });
    [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve, reject) => {
      child.once("error", reject);
      child.once("close", (c, s) => resolve([c, s]));
    });
  } finally {
    closeSync(out);
    closeSync(err);
  }
  const wallS = Number(process.hrtime.bigint() - started) / 1e9;
  if (code !== 0) {
    const tail = readFileSync(errFile, "utf8").trim().split("\n").slice(-15).join("\n");
    throw new CommandFailed(`${cmd.label} failed (${signal ?? `exit ${code}`}): ${cmd.argv.join(" ")}\n${tail}\n(full output: ${errFile})`);
  }
  // GNU time writes "Command exited with non-zero status N" before its line on failure; the
  // figures are always the last line.
  const line = readFileSync(timeFile, "utf8").trim().split("\n").pop() ?? "";
  const [, user, sys, maxKiB] = line.split(" ").map(Number);
  if ([user, sys, maxKiB].some((n) => n === undefined || !Number.isFinite(n))) {
    throw new CommandFailed(`${cmd.label}: cannot read GNU time's output '${line}' in ${timeFile}`);
  }
  const sample: Sample = { wallS, cpuS: user! + sys!, rssMiB: maxKiB! / 1024 };
  if (cmd.monitorLoop) {
    if (!existsSync(loopFile)) throw new CommandFailed(`${cmd.label}: the event-loop monitor wrote nothing to ${loopFile}`);
    sample.loop = JSON.parse(readFileSync(loopFile, "utf8")) as LoopStats;
  }
  return sample;
}

export interface Spread {
  median: number;
  min: number;
  max: number;
}

export function spread(values: number[]): Spread {
  if (values.length === 0) return { median: NaN, min: NaN, max: NaN };
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted[sorted.length - 1]! };
}
