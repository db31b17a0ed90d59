// sov's own schemas skip ajv's check against JSON Schema's meta-schema at run time (compiling the
// meta-schema cost about 20 ms of CPU per command), so this test is that check: the config
// formats here, the built-in plugins' options in test/src/plugins/builtin-schemas.test.ts.
import assert from "node:assert/strict";
import { test } from "node:test";
import { compileSchema } from "../src/config/ajv.js";
import { V01_SCHEMA, V2_SCHEMA } from "../src/config/schema.js";

test("the v0.1 and v2 config schemas are valid JSON Schema", () => {
  assert.doesNotThrow(() => compileSchema(V01_SCHEMA, { coerce: true }));
  assert.doesNotThrow(() => compileSchema(V2_SCHEMA));
});

test("a schema is checked against the meta-schema unless it is sov's own", () => {
  // a mistake ajv's compiler alone lets through: maxLength must not be negative
  const wrong = { type: "object", properties: { dir: { type: "string", maxLength: -1 } } };
  for (let i = 0; i < 2; i++) {
    // twice: ajv's own check happens once per schema object, then it is cached
    assert.throws(() => compileSchema(wrong), /schema is invalid: data\/properties\/dir\/maxLength must be >= 0/);
  }
  assert.doesNotThrow(() => compileSchema(wrong, { own: true }), "own schemas are trusted to the tests above");
});
