import { spawnSync } from "node:child_process";
import type { TestContext } from "node:test";

const found = new Map<string, boolean>();

/** True when `tool` (a name on PATH, or a path) can be run. */
export function hasTool(tool: string): boolean {
  let ok = found.get(tool);
  if (ok === undefined) {
    ok = spawnSync("sh", ["-c", 'command -v -- "$1"', "sh", tool], { stdio: "ignore" }).status === 0;
    found.set(tool, ok);
  }
  return ok;
}

/**
 * True when every tool can be run. Otherwise, with CI=true the test fails (a test that needs a
 * tool must never pass silently in CI); elsewhere it is skipped with the reason shown.
 */
export function needTools(t: TestContext, ...tools: string[]): boolean {
  const missing = tools.filter((tool) => !hasTool(tool));
  if (missing.length === 0) return true;
  if (process.env.CI === "true") throw new Error(`CI is missing ${missing.join(", ")}: its CI script must install it`);
  t.skip(`needs ${missing.join(", ")} (not installed)`);
  return false;
}

/** True when running as root; otherwise the test fails with CI=true and is skipped elsewhere. */
export function needRoot(t: TestContext): boolean {
  if (process.geteuid?.() === 0) return true;
  if (process.env.CI === "true") throw new Error("CI must run the tests as root");
  t.skip("needs root");
  return false;
}
