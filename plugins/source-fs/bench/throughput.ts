/**
 * Throughput of the source against GNU tar on the same tree, page cache warm.
 * usage: node plugins/source-fs/dist/bench/throughput.js DIR [DIR...] [--runs N]
 * Make corpora with: node /work/shared/bench/make-corpus.mjs /tmp/corpus1g --size 1G
 *                    node /work/shared/bench/make-corpus.mjs /tmp/corpus-small --small-files 200000
 * GNU tar writing straight to /dev/null notices it and skips reading file content, so it is
 * also timed through `| cat`, which is the fair comparison.
 */
import { spawnSync } from "node:child_process";
import { resolve } from "node:path";
import { silentLogger } from "@sov/core";
import { createFsSource } from "../src/source.js";

const args = process.argv.slice(2);
const runsAt = args.indexOf("--runs");
const runs = runsAt >= 0 ? Number(args.splice(runsAt, 2)[1]) : 3;
if (args.length === 0) {
  console.error("usage: throughput.js DIR [DIR...] [--runs N]");
  process.exit(2);
}

interface Timing {
  seconds: number;
  /** user + system CPU seconds, all threads */
  cpu: number;
}

async function timeSource(dir: string): Promise<Timing & { bytes: number; files: number; rssMiB: number }> {
  const source = createFsSource({ paths: [dir] }, { log: silentLogger(), configDir: "/" });
  const started = performance.now();
  const cpu = process.cpuUsage();
  let bytes = 0;
  let rss = 0;
  for await (const chunk of source.open(new AbortController().signal)) {
    bytes += (chunk as Buffer).length;
    if ((bytes & 0xfffffff) < (chunk as Buffer).length) rss = Math.max(rss, process.memoryUsage.rss());
  }
  rss = Math.max(rss, process.memoryUsage.rss());
  const used = process.cpuUsage(cpu);
  return {
    seconds: (performance.now() - started) / 1000,
    cpu: (used.user + used.system) / 1e6,
    bytes,
    files: source.stats.files,
    rssMiB: rss / 2 ** 20,
  };
}

/** bash's `time` reports the pipeline's wall clock and its processes' CPU. */
function timeShell(command: string): Timing {
  const res = spawnSync("bash", ["-c", `TIMEFORMAT='%R %U %S'; time ( ${command} )`], { encoding: "utf8", stdio: ["ignore", "ignore", "pipe"] });
  if (res.status !== 0) throw new Error(`${command}: exit ${res.status}: ${res.stderr}`);
  const [real, user, sys] = res.stderr.trim().split("\n").pop()!.split(" ").map(Number) as [number, number, number];
  return { seconds: real, cpu: user + sys };
}

const best = <T extends Timing>(xs: T[]): T => xs.reduce((a, b) => (a.seconds <= b.seconds ? a : b));
const mibps = (bytes: number, s: number) => `${(bytes / 2 ** 20 / s).toFixed(0)} MiB/s`;
const line = (label: string, t: Timing, bytes: number, versus?: Timing) =>
  `  ${label.padEnd(18)} ${t.seconds.toFixed(2)} s  ${mibps(bytes, t.seconds).padStart(10)}  cpu ${t.cpu.toFixed(2)} s` +
  (versus ? `  (source-fs takes ${(versus.seconds / t.seconds).toFixed(2)}x the time)` : "");

for (const dir of args.map((d) => resolve(d))) {
  const rel = dir.slice(1);
  timeShell(`tar -c -C / '${rel}' | cat > /dev/null`); // warm the page cache
  const ours: Array<Awaited<ReturnType<typeof timeSource>>> = [];
  const tarPipe: Timing[] = [];
  const tarNull: Timing[] = [];
  for (let i = 0; i < runs; i++) {
    ours.push(await timeSource(dir));
    tarPipe.push(timeShell(`tar -c -C / '${rel}' | cat > /dev/null`));
    tarNull.push(timeShell(`tar -c -C / '${rel}' > /dev/null`));
  }
  const o = best(ours);
  console.log(`${dir}: ${o.files} files, ${(o.bytes / 2 ** 20).toFixed(0)} MiB of tar, best of ${runs} (peak RSS ${o.rssMiB.toFixed(0)} MiB)`);
  console.log(line("source-fs", o, o.bytes));
  console.log(line("tar | cat", best(tarPipe), o.bytes, o));
  console.log(`${line("tar > /dev/null", best(tarNull), o.bytes, o)}  [tar skips reading content]`);
}
