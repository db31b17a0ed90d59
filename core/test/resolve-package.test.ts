// Which plugins count as sov's own (their schemas are trusted to sov's tests, see
// config/ajv.ts): a built-in name resolved beside sov, never a package of the config directory,
// whatever its name.
import assert from "node:assert/strict";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { resolvePluginPackage } from "../src/resolve-package.js";
import { trustedScratch } from "../src/testing/scratch.js";

test("a plugin found beside sov says so; one from the config directory does not", async (t) => {
  const configDir = trustedScratch(t, "resolve-beside");
  const pkg = join(configDir, "node_modules", "sov-plugin-dest-elsewhere");
  mkdirSync(pkg, { recursive: true, mode: 0o755 });
  writeFileSync(join(pkg, "package.json"), JSON.stringify({ name: "sov-plugin-dest-elsewhere", type: "module", main: "index.js" }), { mode: 0o644 });
  writeFileSync(join(pkg, "index.js"), "export default {};\n", { mode: 0o644 });

  const builtin = await resolvePluginPackage("@sov/dest-local", configDir);
  assert.equal(builtin.beside, true);
  const elsewhere = await resolvePluginPackage("sov-plugin-dest-elsewhere", configDir);
  assert.equal(elsewhere.beside, false);
  assert.ok(elsewhere.entry.startsWith(pkg), elsewhere.entry);
});
