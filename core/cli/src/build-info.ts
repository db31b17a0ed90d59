import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/** This package's directory: build-info.json and package.json live here. */
const PACKAGE_DIR = new URL("../../", import.meta.url);

/**
 * What `build-info.json` beside this package's package.json holds. The packaging script writes
 * it (`{"commit": "<git sha>"}`); a checkout has none and asks git instead.
 */
export interface BuildInfo {
  readonly version: string;
  readonly commit: string;
  readonly node: string;
}

export function version(): string {
  return (JSON.parse(readFileSync(new URL("package.json", PACKAGE_DIR), "utf8")) as { version: string }).version;
}

/** The commit this sov was built from: build-info.json, else `git rev-parse` in a checkout, else "unknown". */
function commit(): string {
  try {
    const info = JSON.parse(readFileSync(new URL("build-info.json", PACKAGE_DIR), "utf8")) as { commit?: unknown };
    if (typeof info.commit === "string" && info.commit) return info.commit;
  } catch {
    // not a packaged build
  }
  try {
    const sha = execFileSync("git", ["rev-parse", "--short=12", "HEAD"], { cwd: fileURLToPath(PACKAGE_DIR), encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], timeout: 5000 }).trim();
    if (/^[0-9a-f]{7,40}$/.test(sha)) return sha;
  } catch {
    // no git, or not a checkout
  }
  return "unknown";
}

export function buildInfo(): BuildInfo {
  return { version: version(), commit: commit(), node: process.version };
}
