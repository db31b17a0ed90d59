// build-info.json: which build this is, written beside the package.json of every package with a
// `sov` bin, where `sov --version` reads it.
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { spawnSync } from "node:child_process";

export const BUILD_INFO_FILE = "build-info.json";

/** { version, commit, builtAt }: the commit gets "-dirty" when tracked files differ from it. */
export function buildInfo(root, version) {
  const git = (...args) => spawnSync("git", args, { cwd: root, encoding: "utf8" });
  const head = git("rev-parse", "--short=12", "HEAD");
  let commit = head.status === 0 ? head.stdout.trim() : "unknown";
  if (head.status === 0 && git("status", "--porcelain", "--untracked-files=no").stdout.trim() !== "") commit += "-dirty";
  // SOURCE_DATE_EPOCH makes two builds of one commit byte-identical.
  const epoch = process.env.SOURCE_DATE_EPOCH;
  const builtAt = new Date(epoch ? Number(epoch) * 1000 : Date.now()).toISOString();
  return { version, commit, builtAt };
}

/** Writes build-info.json into each package dir; the returned function removes them again. */
export function writeBuildInfo(dirs, info) {
  const files = dirs.map((dir) => join(dir, BUILD_INFO_FILE));
  for (const file of files) writeFileSync(file, `${JSON.stringify(info, null, 2)}\n`);
  return () => files.forEach((file) => rmSync(file, { force: true }));
}
