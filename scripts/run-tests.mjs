#!/usr/bin/env node
// Runs every compiled *.test.js of the workspace with node's test runner, one file at a time
// (the tests share loop devices, ports and the lock). Extra arguments narrow the set: a file
// is run when its path contains any of them, e.g. `npm test -- restore dest-usb`.
import { spawnSync } from "node:child_process";
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
const res = spawnSync(process.execPath, ["--test", "--test-concurrency=1", "--test-reporter=spec", ...files], { cwd: root, stdio: "inherit" });
process.exit(res.status ?? 1);
