import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { compareArchiveNames } from "@sov/core";
import { needTools, sh } from "../helpers.js";
import { makeFixture } from "./fixture.js";

test("a destination inside the source (v0.1 local: /data/backups): sov's archives, lock, state, compile cache, log and metrics are never archived", (t) => {
  if (!needTools(t, "age", "age-keygen", "zstd", "tar")) return;
  const fx = makeFixture(t, "leave-out");
  // the common first config: back up /data, write to /data/backups; sov's other files in it too
  const backups = join(fx.data, "backups");
  const metrics = join(fx.data, "metrics", "sov.prom");
  sh(`mkdir -p ${join(fx.data, "metrics")}`);
  writeFileSync(fx.configFile, readFileSync(fx.configFile, "utf8").replace(`  local: ${fx.backups}\n`, `  local: ${backups}\n`) + `metrics_textfile: ${metrics}\n`);
  const env = {
    SOVEREIGN_BACKUP_LOCKDIR: join(fx.data, "run", "lock"),
    SOVEREIGN_BACKUP_STATE_DIR: join(fx.data, "state"),
    SOVEREIGN_BACKUP_LOG: join(fx.data, "sov.log"),
  };
  const member = (path: string) => path.slice(1);
  // Node 22+ fills it (core/cli/src/compile-cache.ts); made here so that Node 20 has one too
  const compileCache = join(env.SOVEREIGN_BACKUP_STATE_DIR, "node-compile-cache");
  sh(`mkdir -p -m 0700 ${compileCache} && echo bytecode > ${compileCache}/planted`);

  for (let i = 0; i < 2; i++) {
    const res = fx.run(["run", "--once"], env);
    assert.equal(res.code, 0, res.stderr);
  }
  const run = fx.run(["run"], env); // with the lock, which now lies inside the source too
  assert.equal(run.code, 0, run.stderr);
  // oldest first by timestamp, then sequence: runs in the same second are named `<stamp>`, `<stamp>-1`, ...
  // which a plain sort would put in the wrong order
  const archives = sh(`ls ${backups}`).split("\n").filter((n) => n.endsWith(".age")).sort(compareArchiveNames);
  assert.equal(archives.length, 3, archives.join());
  const members = sh(`age -d -i ${fx.identity} ${join(backups, archives[2]!)} | zstd -d | tar -t`).split("\n").filter(Boolean);
  assert.ok(members.includes(`${member(fx.data)}/etc/app.conf`), "the data is there");
  for (const own of [backups, env.SOVEREIGN_BACKUP_LOCKDIR, join(env.SOVEREIGN_BACKUP_STATE_DIR, "last-run.json"), compileCache, env.SOVEREIGN_BACKUP_LOG, metrics]) {
    assert.deepEqual(members.filter((m) => m === member(own) || m.startsWith(`${member(own)}/`)), [], `${own} is not archived`);
  }
  // what is only near sov's files is archived as usual
  assert.ok(members.includes(`${member(fx.data)}/state/`) && members.includes(`${member(fx.data)}/metrics/`), members.join("\n"));

  // and the dry run says why each is left out
  const dry = fx.run(["run", "--dry-run", "--verbose"], env);
  assert.equal(dry.code, 0, dry.stderr);
  for (const [path, why] of [
    [`${backups}/`, "a sov destination"],
    [join(env.SOVEREIGN_BACKUP_STATE_DIR, "last-run.json"), "sov's state file"],
    [`${compileCache}/`, "sov's compile cache"],
    [env.SOVEREIGN_BACKUP_LOG, "sov's log file"],
    [metrics, "sov's metrics file"],
  ]) {
    assert.ok(dry.stdout.includes(`  - ${member(path!)} (${why})\n`), `${path}: ${dry.stdout}`);
  }
});
