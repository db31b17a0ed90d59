/**
 * Proof that an archive the benchmark timed is a good backup, using only the stock tools a
 * person would use in a disaster: age -d | zstd -d | tar. A figure is only reported for
 * archives that pass.
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, rmSync } from "node:fs";
import { join, relative } from "node:path";

export class CheckFailed extends Error {
  override readonly name = "CheckFailed";
}

function bash(script: string, what: string): string {
  const res = spawnSync("bash", ["-o", "pipefail", "-c", script], { encoding: "utf8", maxBuffer: 1 << 30 });
  if (res.status !== 0) throw new CheckFailed(`${what}: '${script}' exited ${res.status ?? res.signal}\n${res.stderr.trim()}`);
  return res.stdout;
}

/** `s` as one single-quoted bash word. */
export const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

/** The archive's member names, sorted, without the trailing `/` tar prints for directories. */
export function listArchive(archive: string, identity: string): string[] {
  const out = bash(`age -d -i ${q(identity)} ${q(archive)} | zstd -d -c | tar -t`, `listing ${archive}`);
  return out.split("\n").filter(Boolean).map((n) => n.replace(/\/+$/, "")).sort();
}

export function extractArchive(archive: string, identity: string, target: string): void {
  mkdirSync(target, { recursive: true });
  bash(`age -d -i ${q(identity)} ${q(archive)} | zstd -d -c | tar -x -C ${q(target)}`, `extracting ${archive}`);
}

/**
 * The one archive a destination directory holds after a run: no temporary file may be left
 * behind; a `.sha256` sidecar beside it is allowed and, when present, must match.
 */
export function onlyArchive(dir: string): string {
  const names = readdirSync(dir);
  const archives = names.filter((n) => n.endsWith(".age"));
  const others = names.filter((n) => !n.endsWith(".age") && !n.endsWith(".age.sha256"));
  if (archives.length !== 1 || others.length > 0) {
    throw new CheckFailed(`${dir}: expected exactly one archive after the run, found: ${names.join(", ") || "nothing"}`);
  }
  const archive = join(dir, archives[0]!);
  if (names.includes(`${archives[0]}.sha256`)) {
    bash(`cd ${q(dir)} && sha256sum --quiet -c ${q(`${archives[0]}.sha256`)}`, `checking the checksum sidecar of ${archive}`);
  }
  return archive;
}

export function sameList(actual: string[], expected: string[], what: string): void {
  if (actual.length === expected.length && actual.every((n, i) => n === expected[i])) return;
  const a = new Set(actual);
  const e = new Set(expected);
  const missing = expected.filter((n) => !a.has(n)).slice(0, 10);
  const extra = actual.filter((n) => !e.has(n)).slice(0, 10);
  throw new CheckFailed(
    `${what}: ${actual.length} members, expected ${expected.length}` +
      `${missing.length ? `\n  missing: ${missing.join(", ")}` : ""}${extra.length ? `\n  unexpected: ${extra.join(", ")}` : ""}`,
  );
}

/**
 * What a restore must reproduce, one line per entry: type, mode, owner, link count, size (not
 * for directories: their size depends on the file system's history), mtime in whole seconds
 * (tar's ustar precision), symlink target.
 */
export function treeManifest(dir: string): string[] {
  const out = execFileSync("find", [dir, "-printf", "%P\\t%y\\t%m\\t%u:%g\\t%n\\t%s\\t%T@\\t%l\\n"], { encoding: "utf8", maxBuffer: 1 << 30 });
  return out
    .split("\n")
    .filter(Boolean)
    .map((line) => {
      const f = line.split("\t");
      if (f[1] === "d") f[5] = "-";
      f[6] = String(Math.floor(Number(f[6])));
      return f.join("\t");
    })
    .sort();
}

/** Compares a restored copy of `original` (found at `<restoreRoot>/<original without leading />`). */
export function sameTree(original: string, restoreRoot: string, what: string): void {
  const copy = join(restoreRoot, relative("/", original));
  const want = treeManifest(original);
  const got = treeManifest(copy);
  const wantSet = new Set(want);
  const gotSet = new Set(got);
  const missing = want.filter((l) => !gotSet.has(l)).slice(0, 8);
  const extra = got.filter((l) => !wantSet.has(l)).slice(0, 8);
  if (missing.length || extra.length) {
    const show = (ls: string[]) => ls.map((l) => `    ${l.replace(/\t/g, " | ")}`).join("\n");
    throw new CheckFailed(
      `${what}: the restored tree's metadata differs from ${original} (name | type | mode | owner | links | size | mtime | link target)\n` +
        `  expected but not restored:\n${show(missing)}\n  restored but not expected:\n${show(extra)}`,
    );
  }
  // --no-dereference compares symlinks as links; -q names the first files whose bytes differ.
  const res = spawnSync("diff", ["-rq", "--no-dereference", original, copy], { encoding: "utf8", maxBuffer: 1 << 26 });
  if (res.status !== 0) throw new CheckFailed(`${what}: contents differ from ${original}:\n${(res.stdout + res.stderr).split("\n").slice(0, 10).join("\n")}`);
}

/** Extracts `archive` with stock tools into `scratch` and compares it with `original` in full. */
export function restoresExactly(archive: string, identity: string, original: string, scratch: string): void {
  rmSync(scratch, { recursive: true, force: true });
  try {
    extractArchive(archive, identity, scratch);
    sameTree(original, scratch, `${archive} (extracted with age | zstd | tar)`);
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

export function sameBytes(a: string, b: string): void {
  const res = spawnSync("cmp", ["-s", a, b]);
  if (res.status !== 0) throw new CheckFailed(`${a} and ${b} differ: every destination must receive the same archive`);
}
