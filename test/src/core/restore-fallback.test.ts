import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { scratch, sov } from "../helpers.js";

test("restore --list with no config looks where the bash tool kept archives", (t) => {
  const dir = scratch(t, "restore-fallback");
  const local = join(dir, "backups");
  mkdirSync(local);
  mkdirSync(join(dir, "etc"));
  for (const name of ["sovereign-backup-old-20260101-020000.tar.zst.age", "sovereign-backup-old-20260102-020000.tar.gz.age"]) {
    writeFileSync(join(local, name), "x");
  }
  const env = { SOVEREIGN_BACKUP_CONFIG_DIR: join(dir, "etc"), SOVEREIGN_BACKUP_LOCAL_DIR: local, SOVEREIGN_BACKUP_USB_MOUNT: join(dir, "mnt"), SOVEREIGN_BACKUP_LOG: join(dir, "log") };
  const res = sov(["restore", "--list"], env);
  assert.equal(res.code, 0, res.stderr);
  assert.match(res.stdout, /no config found/);
  const rows = res.stdout.split("\n").filter((l) => l.includes("sovereign-backup-old-"));
  assert.equal(rows.length, 2);
  assert.ok(rows[0]!.includes("20260101") && rows[1]!.includes("20260102"), "oldest first");
  const explicit = sov(["restore", "--list", "--config", join(dir, "etc", "missing.yaml")], env);
  assert.equal(explicit.code, 2, "a named config that is missing is an error, not a fallback");
});
