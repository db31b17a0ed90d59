// `sov --version` says which build it is: the version, the commit (build-info.json written by
// the packaging, else git in a checkout, else "unknown") and the Node version running it.
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { test } from "node:test";

const packageDir = fileURLToPath(new URL("../../", import.meta.url));
const sovBin = `${packageDir}bin/sov.js`;
const { version } = JSON.parse(readFileSync(`${packageDir}package.json`, "utf8")) as { version: string };

function sovVersion(): string {
  const res = spawnSync(process.execPath, [sovBin, "--version"], { encoding: "utf8" });
  assert.equal(res.status, 0, res.stderr);
  return res.stdout;
}

test("in a checkout, sov --version names the version, the git commit and the Node version", (t) => {
  if (existsSync(`${packageDir}build-info.json`)) return t.skip("a build-info.json is present");
  let head = "unknown";
  try {
    head = execFileSync("git", ["rev-parse", "--short=12", "HEAD"], { cwd: packageDir, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
  } catch {
    // not a git checkout: sov says "unknown"
  }
  assert.equal(sovVersion(), `sov ${version} (commit ${head}, Node ${process.version})\n`);
});

test("a packaged build's build-info.json gives the commit", (t) => {
  const file = `${packageDir}build-info.json`;
  if (existsSync(file)) return t.skip("a build-info.json is present");
  writeFileSync(file, JSON.stringify({ commit: "0123456789ab" }));
  t.after(() => rmSync(file, { force: true }));
  assert.equal(sovVersion(), `sov ${version} (commit 0123456789ab, Node ${process.version})\n`);
});
