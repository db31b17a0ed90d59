#!/usr/bin/env node
// Runs every compiled *.test.js of the workspace with node's test runner. Extra arguments
// narrow the set: a file is run when its path contains any of them, e.g.
// `npm test -- restore dest-usb`; those run one file at a time.
//
// The whole suite runs in two lanes at once, each one file at a time, so that one lane's
// waiting (on a server, a device, a child process) is the other's CPU: CI has two cores and
// runs the suite on three Node versions. The first lane holds every file that touches
// something outside its own scratch directory (loop devices and mounts, systemd units, the
// S3 server, sshd, npm's cache) or measures memory; the second, files that share nothing.
// Each output line starts with its lane's number ("1| ", "2| ").
import { spawn, spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join, relative } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const roots = ["core/dist/test", "core/cli/dist/test", "test/dist", ...readdirSync(join(root, "plugins")).map((p) => `plugins/${p}/dist/test`)];
const examples = (() => {
  try {
    return readdirSync(join(root, "examples")).map((p) => `examples/${p}/dist/test`);
  } catch {
    return [];
  }
})();

function walk(dir, out) {
  let entries;
  try {
    entries = readdirSync(dir);
  } catch {
    return out;
  }
  for (const name of entries) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) walk(path, out);
    else if (name.endsWith(".test.js")) out.push(path);
  }
  return out;
}

const filters = process.argv.slice(2);
const files = [...roots, ...examples]
  .flatMap((r) => walk(join(root, r), []))
  .map((f) => relative(root, f))
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
if (files.length === 0) {
  console.error("no test files found; did `tsc -b` run?");
  process.exit(1);
}
const testArgs = (list) => ["--test", "--test-concurrency=1", "--test-reporter=spec", ...list];

if (filters.length > 0) {
  const res = spawnSync(process.execPath, testArgs(files), { cwd: root, stdio: "inherit" });
  process.exit(res.status ?? 1);
}

const OUTSIDE = [/usb/, /install\//, /package\//, /offsite\//, /dest-s3\//, /dest-rclone\//, /sov-plugin-dest-sftp\//, /test\/dist\/plugins\//, /bounded-memory/];
const lanes = [files.filter((f) => OUTSIDE.some((re) => re.test(f))), files.filter((f) => !OUTSIDE.some((re) => re.test(f)))];

/**
 * One lane. Its lines are printed as they come, each marked with the lane's number, so a lane
 * that hangs still shows where; the lanes' lines interleave but never mix within a line.
 */
function runLane(list, name) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, testArgs(list), { cwd: root, stdio: ["ignore", "pipe", "pipe"] });
    const mark = `${name.split(",")[0]}| `;
    for (const stream of [child.stdout, child.stderr]) {
      let partial = "";
      stream.setEncoding("utf8");
      stream.on("data", (text) => {
        const lines = (partial + text).split("\n");
        partial = lines.pop();
        if (lines.length) process.stdout.write(lines.map((l) => mark + l).join("\n") + "\n");
      });
      stream.on("end", () => partial && process.stdout.write(`${mark}${partial}\n`));
    }
    child.on("close", (code, signal) => {
      process.stdout.write(`==== test lane ${name} (${list.length} files): ${code === 0 ? "passed" : `FAILED (exit ${code ?? signal})`}\n`);
      resolve(code ?? 1);
    });
  });
}

const codes = await Promise.all([runLane(lanes[0], "1, outside state"), runLane(lanes[1], "2, self-contained")]);
process.stdout.write(`\n==== ${codes.every((c) => c === 0) ? "all test lanes passed" : "a test lane FAILED"}\n`);
process.exit(codes.find((c) => c !== 0) ?? 0);
