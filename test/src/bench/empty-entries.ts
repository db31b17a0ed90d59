/**
 * The restore memory check on a tree no file system here could build quickly: an archive of
 * N empty regular files (1,000,000 by default, 1,000 per directory), written as a tar stream
 * by this module and sealed by the stock tools (`zstd | age`), so no source tree is needed.
 * `sov restore` must keep its peak RSS flat whatever the entry count; GNU tar is the yardstick.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, readdirSync, renameSync, statSync } from "node:fs";
import { join } from "node:path";
import { CheckFailed, q } from "./check.js";
import type { Corpus, Keypair } from "./corpus.js";

const FILES_PER_DIRECTORY = 1000;
/** A fixed time, so every build of the archive is the same. */
const MTIME = 1767225600;

/** One ustar header block (POSIX.1-1988), as GNU tar writes for a short name. */
function ustarHeader(name: string, type: "0" | "5", mode: number): Buffer {
  const block = Buffer.alloc(512);
  const octal = (value: number, at: number, width: number) => block.write(`${value.toString(8).padStart(width - 1, "0")}\0`, at, "latin1");
  block.write(name, 0, 100, "latin1");
  octal(mode, 100, 8);
  octal(0, 108, 8); // uid
  octal(0, 116, 8); // gid
  octal(0, 124, 12); // size
  octal(MTIME, 136, 12);
  block.write(type, 156, "latin1");
  block.write("ustar\x0000", 257, "latin1");
  block.write("root", 265, "latin1");
  block.write("root", 297, "latin1");
  block.fill(0x20, 148, 156); // the checksum is computed with its own field as spaces
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "latin1");
  return block;
}

function entryDirectory(index: number): string {
  return `empty/${String(Math.floor(index / FILES_PER_DIRECTORY)).padStart(4, "0")}`;
}

/**
 * `<benchDir>/empty-<N>.tar.zst.age`, built once (to a temporary name, renamed when complete):
 * the tar stream goes through `zstd -3 | age -r RECIPIENT`.
 */
export async function ensureEmptyEntriesArchive(benchDir: string, entries: number, keys: Keypair): Promise<string> {
  const archive = join(benchDir, `empty-${entries}.tar.zst.age`);
  if (existsSync(archive)) return archive;
  const partial = `${archive}.partial`;
  process.stdout.write(`building ${archive} (${entries.toLocaleString("en-US")} empty files) ... `);
  const started = performance.now();
  const child = spawn("bash", ["-o", "pipefail", "-c", `zstd -q -3 -c | age -r ${q(keys.recipient)} -o ${q(partial)}`], { stdio: ["pipe", "inherit", "inherit"] });
  const write = async (chunk: Buffer) => {
    if (!child.stdin.write(chunk)) await once(child.stdin, "drain");
  };
  const batch: Buffer[] = [];
  for (let i = 0; i < entries; i++) {
    if (i % FILES_PER_DIRECTORY === 0) batch.push(ustarHeader(`${entryDirectory(i)}/`, "5", 0o755));
    batch.push(ustarHeader(`${entryDirectory(i)}/${String(i % FILES_PER_DIRECTORY).padStart(4, "0")}`, "0", 0o644));
    if (batch.length >= 2048) await write(Buffer.concat(batch.splice(0)));
  }
  batch.push(Buffer.alloc(1024)); // two zero blocks end the archive
  await write(Buffer.concat(batch));
  child.stdin.end();
  const [code] = (await once(child, "close")) as [number | null];
  if (code !== 0) throw new CheckFailed(`building ${archive}: zstd | age exited ${code}`);
  renameSync(partial, archive);
  process.stdout.write(`${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  return archive;
}

/** What the restore scenario reports as its corpus: no content bytes, N files. */
export function emptyEntriesCorpus(benchDir: string, entries: number): Corpus {
  return { dir: join(benchDir, `empty-${entries}`), bytes: 0, files: entries, describe: `${entries.toLocaleString("en-US")} empty files in ${Math.ceil(entries / FILES_PER_DIRECTORY)} directories (a generated archive)` };
}

/** Every entry restored as a regular file in its directory (one in a thousand checked empty): cheaper than a manifest of a million lines. */
export function checkEmptyEntries(target: string, entries: number, what: string): void {
  const root = join(target, "empty");
  let files = 0;
  const directories = readdirSync(root);
  for (const dir of directories) {
    for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
      const path = join(root, dir, entry.name);
      if (!entry.isFile()) throw new CheckFailed(`${what}: ${path} is not a regular file`);
      if (files++ % FILES_PER_DIRECTORY === 0 && statSync(path).size !== 0) throw new CheckFailed(`${what}: ${path} is not empty`);
    }
  }
  if (files !== entries || directories.length !== Math.ceil(entries / FILES_PER_DIRECTORY)) {
    throw new CheckFailed(`${what}: restored ${files} files in ${directories.length} directories, expected ${entries}`);
  }
}
