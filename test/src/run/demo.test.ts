import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { needTools, sh, sov } from "../helpers.js";

test("sov demo backs up its embedded data from any directory (even under /tmp as root), restorable with stock tools", (t) => {
  if (!needTools(t, "age", "zstd", "tar")) return;
  // Deliberately under /tmp: as root, a recipients *file* there would be refused.
  const dir = mkdtempSync(join(tmpdir(), "sov-demo-"));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const res = sov(["demo", "--dir", join(dir, "demo")], { SOVEREIGN_BACKUP_LOG: join(dir, "log") });
  assert.equal(res.code, 0, res.stderr + res.stdout);
  assert.match(res.stdout, /restore it with stock tools/);
  const [archive] = readdirSync(join(dir, "demo", "backups")).filter((n) => n.endsWith(".age"));
  assert.match(archive!, /^sovereign-backup-demo-\d{8}-\d{6}\.tar\.zst\.age$/);
  const out = join(dir, "restored");
  mkdirSync(out);
  sh(`age -d -i ${join(dir, "demo", "demo-identity.txt")} ${join(dir, "demo", "backups", archive!)} | zstd -d | tar -x -C ${out}`);
  assert.equal(sh(`cat ${join(out, "etc/app/app.conf")}`).includes("listen = 127.0.0.1:8080"), true);
  assert.equal(sh(`ls ${join(out, "srv/www")}`).includes("node_modules"), false, "the demo's exclusion applies");
});
