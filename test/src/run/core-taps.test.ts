// The core's own behaviour runs through its hook points: the config's pre_hook script is the
// first preHook tap and retention the first prune tap, so a third-party plugin's taps run after
// them and see what they did; a throw in a preHook tap stops the run before anything is read.
import assert from "node:assert/strict";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { needTools } from "../helpers.js";
import { DIRECTORY_DESTINATION_IMPORTS, DIRECTORY_DESTINATION_JS } from "../plugins/js-destination.js";
import { makeFixture, type Fixture } from "./fixture.js";

const OLD_ARCHIVE = "sovereign-backup-testhost-20200101-000000.tar.age";

/** A destination plugin that also taps preHook and prune and writes down what it saw. */
const OBSERVER = `${DIRECTORY_DESTINATION_IMPORTS}
import { existsSync, writeFileSync } from "node:fs";
${DIRECTORY_DESTINATION_JS}
const NAME = "sov-plugin-observer";
export default {
  name: NAME,
  stage: "destination",
  optionsSchema: {
    type: "object",
    required: ["dir", "report", "preHookMarker"],
    properties: { dir: { type: "string" }, report: { type: "string" }, preHookMarker: { type: "string" }, refuse: { type: "boolean", default: false } },
    additionalProperties: false,
  },
  apply(hooks, options, ctx) {
    hooks.preHook.tapPromise(NAME, async () => {
      writeFileSync(options.report + ".preHook", JSON.stringify({ preHookScriptRan: existsSync(options.preHookMarker) }));
      if (options.refuse) throw new Error("the observer refuses to start");
    });
    hooks.prune.tapPromise(NAME, async (info) => {
      writeFileSync(options.report + ".prune", JSON.stringify({
        committed: info.committed.map((c) => c.destination.name + ":" + c.archive.name),
        pruned: info.pruned.map((a) => a.destination + ":" + a.name),
      }));
    });
    hooks.destination.tapPromise(NAME, async (destinations) => destinations.add(directoryDestination(ctx.instance, options.dir)));
  },
};
`;

interface Setup {
  fx: Fixture;
  observed: string;
  report: string;
  preHookMarker: string;
}

/** The fixture's data to `local` (days: 1, an old archive planted) and to the observer plugin. */
function setup(t: TestContext, label: string, refuse: boolean): Setup {
  const fx = makeFixture(t, label);
  const plugins = join(fx.dir, "plugins");
  mkdirSync(plugins, { mode: 0o755 });
  const pluginFile = join(plugins, "observer.mjs");
  writeFileSync(pluginFile, OBSERVER, { mode: 0o644 });
  const preHookMarker = join(fx.dir, "pre-hook-ran");
  const preHook = join(fx.dir, "pre.sh");
  writeFileSync(preHook, `#!/bin/sh\ntouch ${preHookMarker}\n`);
  chmodSync(preHook, 0o755);
  mkdirSync(fx.backups, { mode: 0o700 });
  writeFileSync(join(fx.backups, OLD_ARCHIVE), "an archive from 2020");
  const observed = join(fx.dir, "observed");
  const report = join(fx.dir, "report");
  fx.writeV2Config(`hooks: { pre: ${preHook} }
destinations:
  - { name: local, plugin: local, path: ${fx.backups}, retention: { days: 1 } }
  - name: observer
    plugin: ${pluginFile}
    dir: ${observed}
    report: ${report}
    preHookMarker: ${preHookMarker}
    refuse: ${refuse}
`);
  return { fx, observed, report, preHookMarker };
}

test("a plugin's preHook tap runs after the config's pre_hook script; its prune tap sees what the core's retention pruned", (t) => {
  if (!needTools(t, "age-keygen")) return;
  const { fx, observed, report } = setup(t, "taps-order", false);
  const res = fx.run(["run"]);
  assert.equal(res.code, 0, res.stderr + res.stdout);
  assert.deepEqual(JSON.parse(readFileSync(`${report}.preHook`, "utf8")), { preHookScriptRan: true });
  const [written] = fx.archives();
  assert.ok(written && written !== OLD_ARCHIVE, `a new archive: ${fx.archives().join()}`);
  assert.equal(existsSync(join(fx.backups, OLD_ARCHIVE)), false, "retention removed the 2020 archive");
  const seen = JSON.parse(readFileSync(`${report}.prune`, "utf8")) as { committed: string[]; pruned: string[] };
  assert.deepEqual(seen.pruned, [`local:${OLD_ARCHIVE}`]);
  assert.deepEqual(seen.committed.sort(), [`local:${written}`, `observer:${readdirSync(observed)[0]}`].sort());
});

test("a throw in a preHook tap fails the run (exit 1) before anything is opened, read or staged", (t) => {
  if (!needTools(t, "age-keygen")) return;
  const { fx, observed, report, preHookMarker } = setup(t, "taps-refuse", true);
  const res = fx.run(["run", "--json"]);
  assert.equal(res.code, 1, res.stderr + res.stdout);
  assert.match(res.stderr, /sov-plugin-observer \(preHook\): the observer refuses to start/);
  const json = JSON.parse(res.stdout) as { status: string; filesRead: number; bytesRead: number; pruned: string[] };
  assert.equal(json.status, "failed");
  assert.equal(json.filesRead, 0, "no source file was read");
  assert.equal(json.bytesRead, 0);
  assert.deepEqual(json.pruned, []);
  assert.ok(existsSync(preHookMarker), "the config's pre_hook ran first");
  assert.ok(existsSync(`${report}.preHook`));
  assert.deepEqual(fx.files(), [OLD_ARCHIVE], "no archive, no temporary file, nothing pruned");
  assert.equal(existsSync(observed), false, "no destination was opened");
  assert.equal(existsSync(fx.lockDir), false, "the lock was released");
});
