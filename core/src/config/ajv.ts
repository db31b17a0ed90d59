import { createRequire } from "node:module";
import type { Ajv, ErrorObject, ValidateFunction } from "ajv";
import type { ConfigPath, YamlConfigDocument } from "./yaml-document.js";

/**
 * ajv is loaded when the first schema is compiled, not when the core is: loading it and making
 * an instance costs 30–40 ms of CPU on the main thread, which a command that reads no config
 * (`sov restore FILE` on a machine with only the archive and the key) has no use for.
 */
let AjvClass: typeof import("ajv").Ajv | undefined;
/** One instance without type coercion (v2 configs, plugin options), one with (v0.1 configs). */
const instances = new Map<boolean, Ajv>();

function instance(coerce: boolean): Ajv {
  let made = instances.get(coerce);
  if (!made) {
    AjvClass ??= (createRequire(import.meta.url)("ajv") as typeof import("ajv")).Ajv;
    // validateSchema: compileSchema checks the schemas that need it
    made = new AjvClass({ allErrors: true, strict: false, allowUnionTypes: true, useDefaults: true, coerceTypes: coerce, validateSchema: false });
    instances.set(coerce, made);
  }
  return made;
}

/**
 * Compiles `schema`; with `coerce`, values are coerced to the types it asks for (v0.1 configs).
 * A schema is first checked against JSON Schema's meta-schema, so a plugin author's mistake is
 * a clear error, except sov's own (`own`: its config formats and its built-in plugins' options):
 * ajv compiles the meta-schema for the first check, about 20 ms of CPU, and tests check sov's
 * own schemas against it instead.
 */
export function compileSchema(schema: object, opts: { coerce?: boolean; own?: boolean } = {}): ValidateFunction {
  const ajv = instance(opts.coerce === true);
  // Checked on every call, not by compile(): ajv caches a schema before it checks it, so a
  // second compile of one it refused would succeed (the leave-out scan loads each destination
  // and skips one that fails; the run then loads it again).
  if (opts.own !== true && !ajv.validateSchema(schema)) throw new Error(`schema is invalid: ${ajv.errorsText()}`);
  return ajv.compile(schema);
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
