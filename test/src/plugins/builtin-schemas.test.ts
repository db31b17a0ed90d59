/**
 * The built-in plugins' options schemas skip ajv's meta-schema check at run time (see
 * core/src/config/ajv.ts), so each is checked here, the way @sov/core/testing checks a
 * third-party plugin's: a name, an apply(), and a schema that is valid JSON Schema.
 */
import assert from "node:assert/strict";
import { test } from "node:test";
import { BUILTIN_PLUGINS } from "@sov/core";
import { checkPluginShape } from "@sov/core/testing";

test("every built-in plugin's options schema is valid JSON Schema", async () => {
  const packages = Object.values(BUILTIN_PLUGINS);
  assert.ok(packages.length >= 9);
  for (const name of packages) {
    // a name in a variable: the test package does not build against every plugin
    const mod = (await import(name)) as { default: unknown };
    assert.doesNotThrow(() => checkPluginShape(mod.default), name);
  }
});
