// The core checks the storage contract at run time, for every destination: two deliberately
// broken copies of PLUGINS.md's example are caught by a real `sov run` (exit 1, the plugin
// named, nothing pruned), and a plugin written for 0.1 keeps working, under the same checks.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { after, test } from "node:test";
import { destinationConformance, destinationFromPlugin } from "@sov/core/testing";
import { needTools, REPO, sh, sovSpawn } from "../helpers.js";
import { makeFixture, type Fixture } from "../run/fixture.js";
import { docExampleSource, edit, writeModule } from "./doc-example.js";
import legacyPlugin from "./legacy-destination-plugin.js";

const LEGACY_MODULE = join(REPO, "test", "dist", "plugins", "legacy-destination-plugin.js");
const OLD_ARCHIVE = "sovereign-backup-testhost-20200101-020000.tar.zst.age";

/** Publishes early: links the temporary to its final name as soon as it is created. */
const publishesEarly = writeModule(
  edit(
    edit(docExampleSource(), `"sov-plugin-dest-example"`, `"sov-plugin-dest-publishes-early"`),
    `await new Promise((ok, fail) => writable.once("open", ok).once("error", fail));`,
    `await new Promise((ok, fail) => writable.once("open", ok).once("error", fail));
    await link(path, this.path(temporaryName.replace(/\\.[^.]+\\.\\d+-[0-9a-f]+\\.tmp$/, "")));`,
  ),
  "publishes-early",
);
/** Leaves its temporary after abort: discard() stops the stream but removes nothing. */
const leavesTemporary = writeModule(
  edit(
    edit(docExampleSource(), `"sov-plugin-dest-example"`, `"sov-plugin-dest-leaves-temp"`),
    `discard: async () => { writable.destroy(); await this.remove(temporaryName); }`,
    `discard: async () => { writable.destroy(); }`,
  ),
  "leaves-temp",
);
after(() => {
  publishesEarly.remove();
  leavesTemporary.remove();
});

function configWith(fx: Fixture, plugin: string, dir: string): void {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  writeFileSync(join(dir, OLD_ARCHIVE), "an old archive retention would remove");
  fx.writeV2Config(`compress: { plugin: zstd }
destinations:
  - name: local
    plugin: local
    path: ${fx.backups}
  - name: nas
    plugin: ${plugin}
    dir: ${dir}
    retention: { days: 1 }
`);
}

test("a store that publishes before the stream ends fails the run (exit 1) naming its plugin; nothing is pruned", (t) => {
  if (!needTools(t, "age", "age-keygen", "zstd")) return;
  const fx = makeFixture(t, "contract-early");
  const nas = join(fx.dir, "nas");
  configWith(fx, publishesEarly.file, nas);
  const res = fx.run();
  assert.equal(res.code, 1, res.stderr);
  assert.match(res.stderr, /destination nas: commit failed: plugin sov-plugin-dest-publishes-early broke the storage contract for destination nas: .* appeared under its final name before the core published it/);
  assert.equal(fx.archives().length, 1, "the healthy destination committed");
  assert.ok(existsSync(join(nas, OLD_ARCHIVE)), "the run did not prune");
  assert.match(res.stderr, /not pruning/);
});

test("a store that leaves its temporary after abort fails the run (exit 1) naming its plugin", async (t) => {
  if (!needTools(t, "age", "age-keygen", "zstd")) return;
  const fx = makeFixture(t, "contract-abort");
  const nas = join(fx.dir, "nas");
  configWith(fx, leavesTemporary.file, nas);
  // Incompressible data, so the run is still writing when it is interrupted.
  execFileSync("sh", ["-c", `head -c 200M /dev/urandom > ${join(fx.data, "big", "huge.bin")}`]);
  const child = sovSpawn(["run"], fx.env, { stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr += d));
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  for (let i = 0; i < 2000 && !readdirSync(nas).some((n) => n.endsWith(".tmp")); i++) await sleep(10);
  child.kill("SIGTERM");
  assert.equal(await exited, 1, stderr);
  assert.match(stderr, /destination nas: abort failed: plugin sov-plugin-dest-leaves-temp broke the storage contract for destination nas: the temporary \S+\.tmp is still listed after abort/);
  assert.deepEqual(fx.archives(), [], "nothing was committed");
  assert.ok(existsSync(join(nas, OLD_ARCHIVE)), "the run did not prune");
});

test("a destination plugin written for 0.1 still backs up with sov run, under the core's checks", (t) => {
  if (!needTools(t, "age", "age-keygen", "zstd", "tar")) return;
  const fx = makeFixture(t, "contract-legacy");
  const nas = join(fx.dir, "nas");
  configWith(fx, LEGACY_MODULE, nas);
  const res = fx.run();
  assert.equal(res.code, 0, res.stderr);
  const archives = readdirSync(nas).filter((n) => n.endsWith(".age") && n !== OLD_ARCHIVE);
  assert.equal(archives.length, 1, readdirSync(nas).join());
  assert.equal(existsSync(join(nas, OLD_ARCHIVE)), false, "retention pruned the old archive through the 0.1 interface");
  const listing = sh(`age -d -i ${fx.identity} ${join(nas, archives[0]!)} | zstd -d | tar -t`);
  assert.match(listing, /etc\/app\.conf/);
});

const base = mkdtempSync(join(tmpdir(), "sov-legacy-conformance-"));
after(() => rmSync(base, { recursive: true, force: true }));
const dirFor = (index: number) => join(base, `check-${index}`);
destinationConformance(
  "a 0.1 Destination (PLUGINS.md's example as of 0.1), through the core's checks",
  ({ index }) => destinationFromPlugin(legacyPlugin, { dir: dirFor(index) }, { instance: "legacy" }),
  {
    raw: ({ index }) => ({
      names: () => readdir(dirFor(index)),
      put: (name, data) => writeFile(join(dirFor(index), name), data),
    }),
  },
);
