/**
 * The core's main entry loads yaml and ajv only when a config is parsed: a restore on a host
 * with no config (only the archive and the key) and every worker that loads the core (the
 * source-fs walker) would otherwise spend about 45 ms (yaml) and 30 ms (ajv) of CPU on them.
 */
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { test } from "node:test";
import { REPO } from "../helpers.js";

const PROBE = `
import { createRequire } from "node:module";
const loaded = (name) => Object.keys(createRequire(import.meta.url).cache).filter((k) => k.includes("/node_modules/" + name + "/")).length;
const core = await import("@sov/core");
const before = { yaml: loaded("yaml"), ajv: loaded("ajv") };
let error = "";
try {
  core.parseConfigText("/etc/sov/config.yaml", "version: 2\\nhost: [unclosed\\n", core.silentLogger());
} catch (err) {
  error = err.message;
}
console.log(JSON.stringify({ before, after: { yaml: loaded("yaml") }, error }));
`;

test("yaml and ajv are loaded with the first config parsed, not with the core", () => {
  const out = JSON.parse(execFileSync(process.execPath, ["--input-type=module", "-e", PROBE], { cwd: REPO, encoding: "utf8" }));
  assert.deepEqual(out.before, { yaml: 0, ajv: 0 }, "importing @sov/core loaded neither");
  assert.ok(out.after.yaml > 0, "parsing a config loads yaml");
  assert.match(out.error, /^\/etc\/sov\/config\.yaml:\d+: not valid YAML/, "and its errors still name the file and line");
});
