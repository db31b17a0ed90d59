// The core's one staging implementation (StagedStore) over the core's DirectoryStore, on a real
// directory: names, visibility, no overwrite, sidecars, cleanup, and issue 16's planted symlinks.
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, lstatSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { DirectoryStore, parseArchiveName, silentLogger, StagedStore, type StagingOptions } from "@sov/core";
import { createRecordingLogger } from "@sov/core/testing";
import { hasTool, scratch } from "../helpers.js";

const NAME = "sovereign-backup-h-20261127-020000.tar.zst.age";
const TEMP_RE = /^sovereign-backup-h-20261127-020000\.tar\.zst\.age\.([A-Za-z0-9_-]+)\.(\d+)-([0-9a-f]+)\.tmp$/;

async function openStaged(dir: string, opts: Partial<StagingOptions> = {}): Promise<StagedStore> {
  const staged = new StagedStore(new DirectoryStore(dir, "local"), { plugin: "@sov/dest-local", log: silentLogger(), ...opts });
  await staged.open();
  return staged;
}

async function writeAll(staged: StagedStore, name: string, data: string) {
  const write = await staged.stage(name);
  await new Promise<void>((resolve, reject) => write.writable.end(Buffer.from(data), () => resolve()).on("error", reject));
  return write;
}

const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

test("a staged archive is invisible until commit, then 0600 in a 0700 directory with its sidecar", async (t) => {
  const dir = join(scratch(t, "stage"), "backups");
  const staged = await openStaged(dir);
  assert.equal(statSync(dir).mode & 0o777, 0o700);
  const write = await writeAll(staged, NAME, "ciphertext");
  const [temporary] = readdirSync(dir);
  assert.match(temporary!, TEMP_RE, "the temporary says machine and pid");
  assert.equal(Number(TEMP_RE.exec(temporary!)![2]), process.pid);
  assert.equal(parseArchiveName(temporary!), null, "a temporary never parses as an archive");
  assert.deepEqual(await staged.list(), [], "nothing is listed before commit");
  const ref = await write.commit({ sha256: sha256("ciphertext"), size: 10 });
  assert.equal(ref.name, NAME);
  assert.equal(ref.size, 10);
  assert.equal(readFileSync(join(dir, NAME), "utf8"), "ciphertext");
  assert.equal(statSync(join(dir, NAME)).mode & 0o777, 0o600);
  assert.deepEqual(readdirSync(dir).sort(), [NAME, `${NAME}.sha256`], "no temporary is left");
  assert.equal(readFileSync(join(dir, `${NAME}.sha256`), "utf8"), `${sha256("ciphertext")}  ${NAME}\n`);
  if (hasTool("sha256sum")) execFileSync("sha256sum", ["-c", `${NAME}.sha256`], { cwd: dir, stdio: "ignore" });
  assert.deepEqual((await staged.list()).map((r) => r.name), [NAME], "the sidecar is never listed");
  assert.equal(await staged.readChecksum(ref), sha256("ciphertext"));
});

test("abort leaves nothing behind", async (t) => {
  const dir = scratch(t, "abort");
  const staged = await openStaged(dir);
  const write = await writeAll(staged, NAME, "partial");
  await write.abort();
  assert.deepEqual(readdirSync(dir), []);
});

test("an existing archive is never overwritten: the second gets -1", async (t) => {
  const dir = scratch(t, "collide");
  const staged = await openStaged(dir);
  await (await writeAll(staged, NAME, "first")).commit();
  const second = await (await writeAll(staged, NAME, "second")).commit();
  assert.equal(second.name, "sovereign-backup-h-20261127-020000-1.tar.zst.age");
  assert.equal(readFileSync(join(dir, NAME), "utf8"), "first");
  assert.equal(readFileSync(join(dir, second.name), "utf8"), "second");
});

test("remove takes the sidecar with its archive; ranged reads return exactly the range", async (t) => {
  const dir = scratch(t, "remove");
  const staged = await openStaged(dir);
  const ref = await (await writeAll(staged, NAME, "0123456789")).commit({ sha256: sha256("0123456789") });
  const chunks: Buffer[] = [];
  for await (const c of staged.store.read(NAME, { start: 2, end: 5 })) chunks.push(c as Buffer);
  assert.equal(Buffer.concat(chunks).toString(), "234");
  await staged.remove(ref);
  assert.deepEqual(readdirSync(dir), []);
});

test("on open, temporaries of this machine's dead writers are removed; live ones and other machines' are kept", async (t) => {
  const dir = scratch(t, "stale-tmp");
  const child = spawn(process.execPath, ["-e", ""]);
  await new Promise((r) => child.on("exit", r));
  const dead = `${NAME}.here.${child.pid}-00aa.tmp`;
  const live = `${NAME}.here.1-00bb.tmp`;
  const elsewhere = `${NAME}.there.${child.pid}-00cc.tmp`;
  for (const name of [dead, live, elsewhere]) writeFileSync(join(dir, name), "half");
  const log = createRecordingLogger();
  const staged = await openStaged(dir, { machine: "here", log });
  assert.deepEqual(readdirSync(dir).sort(), [live, elsewhere].sort());
  assert.ok(log.lines.some((l) => l.includes(`removed ${dead}, left by an interrupted run`)), log.lines.join("\n"));
  assert.deepEqual(await staged.list(), []);
});

test("issue 16: symlinks planted at the temporary and sidecar names are never written through", async (t: TestContext) => {
  const base = scratch(t, "planted");
  const dir = join(base, "backups");
  const victim = join(base, "victim");
  writeFileSync(victim, "root's file\n", { mode: 0o600 });
  // The random parts the run will use, in order: every temporary it could create is planted.
  const suffixes = ["0001", "0002", "0003", "0004", "0005", "0006", "0007", "0008"];
  let next = 0;
  const staged = await openStaged(dir, { machine: "m", randomSuffix: () => suffixes[next++]! });
  const planted = ["0001", "0002", "0004"].map((r) => `${NAME}.m.${process.pid}-${r}.tmp`);
  planted.push(`${NAME}.sha256.m.${process.pid}-0005.tmp`, `${NAME}.sha256`);
  for (const name of planted) symlinkSync(victim, join(dir, name));

  const write = await writeAll(staged, NAME, "ciphertext");
  await write.commit({ sha256: sha256("ciphertext") });

  assert.equal(readFileSync(victim, "utf8"), "root's file\n", "the file the symlinks point at is unchanged");
  assert.equal(lstatSync(victim).isFile(), true);
  assert.equal(readFileSync(join(dir, NAME), "utf8"), "ciphertext");
  const sidecar = join(dir, `${NAME}.sha256`);
  assert.equal(lstatSync(sidecar).isSymbolicLink(), false, "the stale symlink at the sidecar name was replaced, not followed");
  assert.equal(readFileSync(sidecar, "utf8"), `${sha256("ciphertext")}  ${NAME}\n`);
  for (const name of planted.slice(0, 4)) assert.equal(lstatSync(join(dir, name)).isSymbolicLink(), true, `${name} is left alone`);
  assert.equal(existsSync(join(dir, `${NAME}.m.${process.pid}-0003.tmp`)), false, "the temporary used is gone");
});
