import { createRequire } from "node:module";
import type { Ajv, ErrorObject, ValidateFunction } from "ajv";
import type { ConfigPath, YamlConfigDocument } from "./yaml-document.js";

/**
 * ajv is loaded when the first schema is compiled, not when the core is: loading it and making
 * the two instances costs 45–65 ms of CPU on the main thread, which a command that reads no
 * config (`sov restore FILE` on a machine with only the archive and the key) has no use for.
 */
let instances: { strict: Ajv; coercing: Ajv } | undefined;

export function compileSchema(schema: object, opts: { coerce?: boolean } = {}): ValidateFunction {
  if (!instances) {
    const { Ajv } = createRequire(import.meta.url)("ajv") as typeof import("ajv");
    instances = {
      strict: new Ajv({ allErrors: true, strict: false, allowUnionTypes: true, useDefaults: true }),
      coercing: new Ajv({ allErrors: true, strict: false, allowUnionTypes: true, coerceTypes: true, useDefaults: true }),
    };
  }
  return (opts.coerce ? instances.coercing : instances.strict).compile(schema);
}

/**
 * Checks `value` and throws the first problem as `file:line: key: message`. `locate` maps a
 * path inside `value` to its path in the YAML document (they differ for v0.1 configs).
 */
export function validateOrThrow(
  validate: ValidateFunction,
  value: unknown,
  doc: YamlConfigDocument,
  locate: (path: ConfigPath) => ConfigPath,
  prefix = "",
): void {
  if (validate(value)) return;
  const err = mostUseful(validate.errors ?? []);
  if (!err) return;
  const path = instancePath(err);
  const key = err.keyword === "additionalProperties" ? [...path, String(err.params.additionalProperty)] : path;
  throw doc.error(locate(key), `${prefix}${describe(err)}`);
}

function instancePath(err: ErrorObject): ConfigPath {
  return err.instancePath
    .split("/")
    .slice(1)
    .map((p) => p.replace(/~1/g, "/").replace(/~0/g, "~"))
    .map((p) => (/^\d+$/.test(p) ? Number(p) : p));
}

/** anyOf failures report every branch; the deepest, most specific error helps a person most. */
function mostUseful(errors: ErrorObject[]): ErrorObject | undefined {
  return [...errors].sort((a, b) => b.instancePath.length - a.instancePath.length || rank(a) - rank(b))[0];
}

function rank(err: ErrorObject): number {
  return err.keyword === "anyOf" || err.keyword === "oneOf" ? 1 : 0;
}

function describe(err: ErrorObject): string {
  switch (err.keyword) {
    case "additionalProperties":
      return "unknown key";
    case "required":
      return `missing required key '${String(err.params.missingProperty)}'`;
    case "enum":
      return `must be one of ${(err.params.allowedValues as unknown[]).map(String).join(", ")}`;
    case "const":
      return `must be ${JSON.stringify(err.params.allowedValue)}`;
    case "pattern":
      return `has characters that are not allowed (must match ${String(err.params.pattern)})`;
    default:
      return err.message ?? err.keyword;
  }
}
