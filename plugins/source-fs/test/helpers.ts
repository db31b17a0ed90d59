import { spawnSync } from "node:child_process";
import { createWriteStream, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import type { TestContext } from "node:test";
import { silentLogger, type ArchiveSource, type Logger } from "@sov/core";
import type { FsSourceOptions } from "../src/options.js";
import { createFsSource } from "../src/source.js";

const tarVersion = spawnSync("tar", ["--version"], { encoding: "utf8" });
const hasGnuTar = tarVersion.status === 0 && tarVersion.stdout.includes("GNU tar");

/**
 * For tests that compare with GNU tar: false (and the test skipped, with the reason shown) when
 * it is missing, except in CI, where a missing tar fails the test instead of hiding it.
 */
export function requireGnuTar(t: TestContext): boolean {
  if (hasGnuTar) return true;
  if (process.env.CI === "true") throw new Error("GNU tar is required in CI but `tar --version` does not report GNU tar");
  t.skip("GNU tar not found on PATH");
  return false;
}

/** Runs GNU tar in a UTF-8 locale (so PAX names are not transcoded); throws on a non-zero exit. */
export function tar(args: string[], input?: Buffer): { stdout: string; stderr: string } {
  const res = spawnSync("tar", args, { input, encoding: "utf8", maxBuffer: 64 << 20, env: { ...process.env, LC_ALL: "C.UTF-8" } });
  if (res.status !== 0) throw new Error(`tar ${args.join(" ")} exited ${res.status}: ${res.stderr}`);
  return { stdout: res.stdout, stderr: res.stderr };
}

/** Member names as `tar -t` prints them, sorted, without the trailing slash of directories. */
export function tarList(archive: string): string[] {
  return tar(["-tf", archive, "--quoting-style=literal"])
    .stdout.split("\n")
    .filter(Boolean)
    .map((n) => n.replace(/\/$/, ""))
    .sort();
}

export function tempDir(t: TestContext, prefix = "sov-source-fs-"): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export function makeSource(options: FsSourceOptions, log: Logger = silentLogger()): ArchiveSource {
  return createFsSource(options, { log, configDir: "/" });
}

/** Streams the source's archive into a file. */
export async function archiveTo(source: ArchiveSource, file: string): Promise<void> {
  await pipeline(source.open(new AbortController().signal), createWriteStream(file));
}

/**
 * For tests that need root (mounting a filesystem): false, and the test skipped with the reason
 * shown, when not root; in CI, where the tests run as root, a failure instead.
 */
export function requireRoot(t: TestContext): boolean {
  if (process.getuid?.() === 0) return true;
  if (process.env.CI === "true") throw new Error("CI must run the tests as root");
  t.skip("needs root (mounts a tmpfs)");
  return false;
}

/** Every decision of the source's preview, in walk order. */
export async function previewOf(source: ArchiveSource): Promise<Array<{ path: string; included: boolean; reason?: string }>> {
  const decisions = [];
  for await (const d of source.preview!(new AbortController().signal)) decisions.push(d);
  return decisions;
}

/** The included paths of a preview the way `tarList` gives an archive's: sorted, no trailing slash. */
export function includedPaths(decisions: ReadonlyArray<{ path: string; included: boolean }>): string[] {
  return decisions
    .filter((d) => d.included)
    .map((d) => d.path.replace(/\/$/, ""))
    .sort();
}
