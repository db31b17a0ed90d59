import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { DirectoryStore, silentLogger } from "@sov/core";
import { scratch } from "../helpers.js";

const NAME = "sovereign-backup-h-20261127-020000.tar.zst.age";

async function writeAll(store: DirectoryStore, name: string, data: string) {
  const staged = await store.stage(name);
  await new Promise<void>((resolve, reject) => staged.writable.end(Buffer.from(data), () => resolve()).on("error", reject));
  return staged;
}

test("a staged archive is invisible until commit, then 0600 in a 0700 directory", async (t) => {
  const dir = join(scratch(t, "stage"), "backups");
  const store = new DirectoryStore(dir, "local", silentLogger());
  await store.prepare();
  assert.equal(statSync(dir).mode & 0o777, 0o700);
  const staged = await writeAll(store, NAME, "ciphertext");
  assert.deepEqual(await store.list(), [], "nothing is listed before commit");
  assert.equal(existsSync(join(dir, NAME)), false);
  const ref = await staged.commit();
  assert.equal(ref.name, NAME);
  assert.equal(readFileSync(join(dir, NAME), "utf8"), "ciphertext");
  assert.equal(statSync(join(dir, NAME)).mode & 0o777, 0o600);
  assert.deepEqual(readdirSync(dir), [NAME], "no temporary file is left");
});

test("abort leaves nothing behind", async (t) => {
  const dir = scratch(t, "abort");
  const store = new DirectoryStore(dir, "local", silentLogger());
  await store.prepare();
  const staged = await writeAll(store, NAME, "partial");
  await staged.abort();
  assert.deepEqual(readdirSync(dir), []);
});

test("an existing archive is never overwritten: the second gets -1", async (t) => {
  const dir = scratch(t, "collide");
  const store = new DirectoryStore(dir, "local", silentLogger());
  await store.prepare();
  await (await writeAll(store, NAME, "first")).commit();
  const second = await (await writeAll(store, NAME, "second")).commit();
  assert.equal(second.name, "sovereign-backup-h-20261127-020000-1.tar.zst.age");
  assert.equal(readFileSync(join(dir, NAME), "utf8"), "first");
  assert.equal(readFileSync(join(dir, second.name), "utf8"), "second");
});

test("temporary files of a dead writer are removed on the next prepare, a live one's are kept", async (t) => {
  const dir = scratch(t, "stale-tmp");
  const child = spawn(process.execPath, ["-e", ""]);
  await new Promise((r) => child.on("exit", r));
  writeFileSync(join(dir, `${NAME}.${child.pid}.tmp`), "half");
  writeFileSync(join(dir, `${NAME}.1.tmp`), "pid 1 is alive");
  const store = new DirectoryStore(dir, "local", silentLogger());
  await store.prepare();
  assert.deepEqual(readdirSync(dir).sort(), [`${NAME}.1.tmp`]);
  assert.deepEqual(await store.list(), []);
});
