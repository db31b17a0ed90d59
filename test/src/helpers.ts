import { SOV_NODE_ENV, sovNodeFlags } from "@sov/cli";
import { execFileSync, spawn, spawnSync, type SpawnOptions } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { TestContext } from "node:test";

export const REPO = new URL("../../", import.meta.url).pathname.replace(/\/$/, "");
export const SOV_BIN = join(REPO, "core/cli/bin/sov.js");
/** Node's flags as the launchers pass them (the install wrappers, the package's bin/). */
export const SOV_NODE_FLAGS = sovNodeFlags();
/** And the environment they set, unless the caller's has it (spread it first). */
export { SOV_NODE_ENV };
export const IN_CI = process.env.CI === "true";
export const IS_ROOT = process.getuid?.() === 0;

/**
 * A scratch directory for one test. As root it lives under /run/sov-test (root-owned, 0755
 * all the way up) because hook and lock checks refuse world-writable parents such as /tmp.
 */
export function scratch(t: TestContext, label = "t"): string {
  const base = IS_ROOT ? "/run/sov-test" : join(REPO, ".scratch");
  mkdirSync(base, { recursive: true, mode: 0o755 });
  if (IS_ROOT) chmodSync(base, 0o755);
  const dir = mkdtempSync(join(base, `${label.replace(/[^a-z0-9]+/gi, "-").slice(0, 40)}-`));
  chmodSync(dir, 0o755);
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The same tool and root checks a plugin author gets from the conformance kit. */
export { hasTool, needRoot, needTools } from "@sov/core/testing";

export interface SovResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the real `sov` command as a separate process, the way the timer does. */
export function sov(args: string[], env: Record<string, string> = {}, opts: { input?: string } = {}): SovResult {
  const res = spawnSync(process.execPath, [...SOV_NODE_FLAGS, SOV_BIN, ...args], {
    env: { ...SOV_NODE_ENV, ...process.env, ...env },
    encoding: "utf8",
    input: opts.input ?? "",
    timeout: 120_000,
  });
  return { code: res.status ?? -1, stdout: res.stdout, stderr: res.stderr };
}

export function sovSpawn(args: string[], env: Record<string, string>, opts: SpawnOptions = {}) {
  return spawn(process.execPath, [...SOV_NODE_FLAGS, SOV_BIN, ...args], { env: { ...SOV_NODE_ENV, ...process.env, ...env }, ...opts });
}

/** A fresh age identity from the real age-keygen; returns the identity file and its recipient. */
export function ageKeypair(dir: string, name = "identity"): { identity: string; recipient: string } {
  const identity = join(dir, `${name}.txt`);
  execFileSync("age-keygen", ["-o", identity], { stdio: "ignore" });
  const recipient = execFileSync("age-keygen", ["-y", identity], { encoding: "utf8" }).trim();
  return { identity, recipient };
}

export function sh(command: string, opts: { cwd?: string } = {}): string {
  return execFileSync("bash", ["-o", "pipefail", "-c", command], { encoding: "utf8", maxBuffer: 1 << 30, ...opts });
}

export function readText(path: string): string {
  return readFileSync(path, "utf8");
}
