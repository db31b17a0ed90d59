#!/usr/bin/env node
// Compress and decompress throughput of @sov/compress-lz4 against the lz4 CLI, file to file, each
// step run several times; prints the best and the median. Build first (npx tsc -b plugins/compress-lz4).
//   node plugins/compress-lz4/bench/throughput.mjs INPUT [--runs 3] [--tmp /tmp]
// A corpus: node /work/shared/bench/make-corpus.mjs /tmp/lz4corpus --size 512M && tar -cf /tmp/lz4corpus.tar -C /tmp lz4corpus
import { spawn } from "node:child_process";
import { closeSync, createReadStream, createWriteStream, existsSync, openSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { createLz4CompressStream, createLz4DecodeStream } from "../dist/src/index.js";

const args = process.argv.slice(2);
const input = args[0];
if (!input || input.startsWith("-")) {
  console.error("usage: throughput.mjs INPUT [--runs 3] [--tmp DIR]");
  process.exit(2);
}
const opt = (name, dflt) => {
  const i = args.indexOf(name);
  return i > 0 ? args[i + 1] : dflt;
};
const runs = Number(opt("--runs", "3"));
const tmp = opt("--tmp", "/tmp");
const size = statSync(input).size;
const cliOut = join(tmp, "lz4bench.cli.lz4");
const sovOut = join(tmp, "lz4bench.sov.lz4");

const TIME = existsSync("/usr/bin/time") ? "/usr/bin/time" : undefined;

/**
 * Runs a command with stdout straight to a file, as a shell redirect would. Returns the CPU
 * seconds it used (from /usr/bin/time), or undefined without it.
 */
function sh(command, argv, stdoutPath) {
  const fd = openSync(stdoutPath, "w");
  const [file, args] = TIME ? [TIME, ["-f", "cpu %U %S", command, ...argv]] : [command, argv];
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, { stdio: ["ignore", fd, "pipe"] });
    let stderr = "";
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (code) => {
      if (code !== 0) return reject(new Error(`${command} exited ${code}: ${stderr}`));
      const m = /cpu ([\d.]+) ([\d.]+)/.exec(stderr);
      resolve(m ? Number(m[1]) + Number(m[2]) : undefined);
    });
  }).finally(() => closeSync(fd));
}

/** Runs a step in this process; returns the CPU seconds the whole process used (thread pool included). */
async function inProcess(step) {
  const before = process.cpuUsage();
  await step();
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1e6;
}

const steps = [
  ["lz4 -c (CLI, 1 thread)", () => sh("lz4", ["-q", "-c", input], cliOut)],
  ["sov compress", () => inProcess(() => pipeline(createReadStream(input), createLz4CompressStream({ chunkSize: 4 << 20 }), createWriteStream(sovOut)))],
  ["lz4 -d -c of the CLI's output", () => sh("lz4", ["-q", "-d", "-c", cliOut], "/dev/null")],
  ["sov decode of the CLI's output", () => inProcess(() => pipeline(createReadStream(cliOut), createLz4DecodeStream(), createWriteStream("/dev/null")))],
  ["lz4 -d -c of sov's output", () => sh("lz4", ["-q", "-d", "-c", sovOut], "/dev/null")],
  ["sov decode of sov's output", () => inProcess(() => pipeline(createReadStream(sovOut), createLz4DecodeStream(), createWriteStream("/dev/null")))],
];

console.log(`input ${input}: ${(size / 1e6).toFixed(0)} MB, ${runs} runs each, in MB/s of uncompressed data.`);
console.log("wall: elapsed time (depends on other load); cpu: per CPU-second used, all threads (does not)");
const rate = (seconds) => (seconds ? (size / seconds / 1e6).toFixed(0) : "-").padStart(5);
const median = (values) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)];
for (const [label, step] of steps) {
  const walls = [];
  const cpus = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    const cpu = await step();
    walls.push((performance.now() - start) / 1000);
    if (cpu !== undefined) cpus.push(cpu);
  }
  const best = Math.min(...walls);
  console.log(`${label.padEnd(32)} wall best ${rate(best)}  median ${rate(median(walls))}   cpu median ${rate(median(cpus))}`);
}
console.log(`ratio: CLI ${(statSync(cliOut).size / size).toFixed(3)}, sov ${(statSync(sovOut).size / size).toFixed(3)}`);
rmSync(cliOut);
rmSync(sovOut);
