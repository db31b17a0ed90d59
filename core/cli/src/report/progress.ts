import { type SourceStats, type Logger, formatBytes } from "@sov/core";

export interface ProgressOptions {
  /** A terminal: redraw one status line in place. Otherwise log one line a minute. */
  tty: boolean;
  /** The last run's bytes read, for an estimate of what remains; unknown on a first run. */
  expectedBytes?: number | undefined;
  write: (text: string) => void;
  log: Logger;
  intervalMs?: number;
}

/** Files and bytes done, throughput, elapsed and an estimate of what remains. */
export function progressLine(stats: SourceStats, elapsedMs: number, expectedBytes?: number): string {
  const seconds = Math.max(elapsedMs / 1000, 0.001);
  const rate = stats.bytes / seconds;
  let eta = "";
  if (expectedBytes && expectedBytes > stats.bytes && rate > 0) eta = `, ~${duration((expectedBytes - stats.bytes) / rate)} left`;
  else if (expectedBytes && rate > 0) eta = ", finishing";
  return `${stats.files} files, ${formatBytes(stats.bytes)} read, ${formatBytes(rate)}/s, ${duration(seconds)} elapsed${eta}`;
}

function duration(seconds: number): string {
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${String(r).padStart(2, "0")}` : `${m}:${String(r).padStart(2, "0")}`;
}

/** Starts reporting on `stats` until the returned stop function is called. */
export function startProgress(stats: SourceStats, opts: ProgressOptions): () => void {
  const started = Date.now();
  const interval = opts.intervalMs ?? (opts.tty ? 500 : 60_000);
  let drawn = false;
  const timer = setInterval(() => {
    const line = progressLine(stats, Date.now() - started, opts.expectedBytes);
    if (opts.tty) {
      opts.write(`\r\x1b[K${line}`);
      drawn = true;
    } else {
      opts.log.info(`progress: ${line}`);
    }
  }, interval);
  timer.unref();
  return () => {
    clearInterval(timer);
    if (drawn) opts.write("\r\x1b[K");
  };
}
