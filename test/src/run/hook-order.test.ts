import assert from "node:assert/strict";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { test } from "node:test";
import { needRoot, needTools, REPO } from "../helpers.js";
import { makeFixture } from "./fixture.js";

/**
 * A destination that behaves like a stick: the real local destination, whose archives are
 * reachable only between open() and close() (close moves the directory away, as an unmount
 * does), and which records both calls.
 */
const STICK_LIKE_PLUGIN = `import { appendFileSync, renameSync } from "node:fs";
import { localDestination } from ${JSON.stringify(pathToFileURL(join(REPO, "plugins/dest-local/dist/src/index.js")).href)};
const NAME = "stick-like";
export default {
  name: NAME,
  stage: "destination",
  optionsSchema: { type: "object", required: ["dir", "record"], properties: { dir: { type: "string" }, record: { type: "string" } }, additionalProperties: false },
  apply(hooks, { dir, record }, ctx) {
    hooks.destination.tapPromise(NAME, async (destinations) => {
      // The real local store, its open() and close() recorded (own properties shadow its methods).
      const store = localDestination(ctx.instance, { path: dir }, ctx.log);
      const open = store.open.bind(store);
      const close = store.close.bind(store);
      store.open = async () => { await open(); appendFileSync(record, "open\\n"); };
      store.close = async () => { await close(); renameSync(dir, dir + "-unmounted"); appendFileSync(record, "close\\n"); };
      destinations.add(store);
    });
  },
};
`;

test("post_hook runs while the destinations are open: every file in SOV_ARCHIVES is there to read", (t) => {
  // a plugin given by path must be root-owned, as the fixture's files are when run as root
  if (!needTools(t, "age", "age-keygen") || !needRoot(t)) return;
  const fx = makeFixture(t, "hook-order");
  const pluginDir = join(fx.dir, "plugins");
  mkdirSync(pluginDir, { mode: 0o755 });
  const plugin = join(pluginDir, "stick-like.mjs");
  writeFileSync(plugin, STICK_LIKE_PLUGIN, { mode: 0o644 });
  const record = join(fx.dir, "record");
  const stick = join(fx.dir, "mnt", "stick");
  const postHook = join(fx.dir, "post.sh");
  writeFileSync(postHook, `#!/bin/sh\nfor f in $SOV_ARCHIVES; do if [ -f "$f" ]; then echo "post_hook reads $f" >> ${record}; else echo "post_hook misses $f" >> ${record}; fi; done\n`);
  chmodSync(postHook, 0o755);
  fx.writeV2Config(`destinations:
  - { name: stick, plugin: ${plugin}, dir: ${stick}, record: ${record} }
hooks: { post: ${postHook} }
`);
  const res = fx.run();
  assert.equal(res.code, 0, res.stderr);
  const lines = readFileSync(record, "utf8").trim().split("\n");
  assert.equal(lines.length, 3, lines.join("\n"));
  assert.equal(lines[0], "open");
  assert.match(lines[1]!, new RegExp(`^post_hook reads ${stick}/sovereign-backup-testhost-\\d{8}-\\d{6}\\.tar\\.zst\\.age$`));
  assert.equal(lines[2], "close");
});
