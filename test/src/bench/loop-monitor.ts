/**
 * Preloaded into `sov` with `node --import` by the benchmark: measures how long the main
 * thread's event loop was kept from running a 10 ms interval timer (a synchronous step that
 * would also hold up progress output and signal handlers), and writes the longest stalls, with
 * when they happened, to $SOV_BENCH_LOOP_OUT at exit. It also samples process.memoryUsage()
 * every 100 ms and keeps the breakdown at the highest RSS seen (an estimate: GNU time's max RSS
 * is the exact peak). It changes nothing in sov; the timer is unref'd and costs well under 0.1%.
 *
 * A stall is an upper bound on the longest synchronous step: on a loaded machine it also
 * includes time the thread waited for a CPU. Its timestamp (seconds since the process started)
 * tells startup (module loading, schema compiling) from the streaming phase.
 */
import { writeFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { isMainThread } from "node:worker_threads";

export const LOOP_OUT_ENV = "SOV_BENCH_LOOP_OUT";
export const LOOP_INTERVAL_MS = 10;

export interface LoopStall {
  /** Seconds since the process started when the stall began. */
  atS: number;
  ms: number;
}

/** process.memoryUsage() at the moment RSS peaked, in MiB, sampled every 100 ms. */
export interface MemoryAtPeak {
  rss: number;
  /** V8's heap (JS objects) of the main thread. */
  heapTotal: number;
  /** Buffers and ArrayBuffers (chunk memory), all threads. */
  arrayBuffers: number;
  /** The rest: native allocations (zstd's contexts and job buffers), code, stacks, worker heaps. */
  other: number;
  atS: number;
}

export interface LoopStats {
  /** The longest stall, in ms (0 if none was longer than a tick). */
  maxMs: number;
  /** The longest few, longest first. */
  worst: LoopStall[];
  /** Stalls over 100 ms. */
  over100: number;
  ticks: number;
  /** When the process exited, seconds since it started. */
  exitS: number;
  memory?: MemoryAtPeak;
}

const KEEP = 5;
const MiB = 2 ** 20;
const out = process.env[LOOP_OUT_ENV];
// Worker threads inherit --import; they are meant to block, only the main loop matters.
if (out && isMainThread) {
  const worst: LoopStall[] = [];
  let over100 = 0;
  let ticks = 0;
  let last = performance.now();
  const record = (started: number, ms: number) => {
    if (ms > 100) over100++;
    if (worst.length === KEEP && ms <= worst[KEEP - 1]!.ms) return;
    worst.push({ atS: started / 1000, ms });
    worst.sort((a, b) => b.ms - a.ms);
    worst.length = Math.min(worst.length, KEEP);
  };
  let memory: MemoryAtPeak | undefined;
  const sampleMemory = (now: number) => {
    const m = process.memoryUsage();
    if (memory && m.rss / MiB <= memory.rss) return;
    const other = m.rss - m.heapTotal - m.arrayBuffers;
    memory = { rss: m.rss / MiB, heapTotal: m.heapTotal / MiB, arrayBuffers: m.arrayBuffers / MiB, other: other / MiB, atS: now / 1000 };
  };
  const timer = setInterval(() => {
    const now = performance.now();
    ticks++;
    record(last, Math.max(0, now - last - LOOP_INTERVAL_MS));
    if (ticks % 10 === 0) sampleMemory(now);
    last = now;
  }, LOOP_INTERVAL_MS);
  timer.unref();
  process.on("exit", () => {
    clearInterval(timer);
    // The stretch since the last tick counts too: a block right before exit is still a block.
    const now = performance.now();
    record(last, Math.max(0, now - last - LOOP_INTERVAL_MS));
    sampleMemory(now);
    const stats: LoopStats = { maxMs: worst[0]?.ms ?? 0, worst, over100, ticks, exitS: now / 1000, ...(memory ? { memory } : {}) };
    writeFileSync(out, JSON.stringify(stats));
  });
}
