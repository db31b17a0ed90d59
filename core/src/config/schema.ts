/** JSON schemas for both config formats; plugin options are checked by each plugin's own schema. */

const HOST = { type: "string", pattern: "^[A-Za-z0-9][A-Za-z0-9._-]*$", maxLength: 253 };
const PATH_OR_EMPTY = { type: ["string", "null"] };

const COUNT = { type: "integer", minimum: 0 };
const WITHIN = { type: "string", pattern: "^\\s*\\d+[hdwmy]\\s*$" };

export const RETENTION_SCHEMA = {
  type: "object",
  properties: {
    days: COUNT,
    keep_last: COUNT,
    keep_hourly: COUNT,
    keep_daily: COUNT,
    keep_weekly: COUNT,
    keep_monthly: COUNT,
    keep_yearly: COUNT,
    keep_within: WITHIN,
  },
  additionalProperties: false,
};

const V01_RETENTION_PROPERTIES = Object.fromEntries(
  ["local", "usb"].flatMap((dest) => [
    [`${dest}_days`, COUNT],
    ...["keep_last", "keep_hourly", "keep_daily", "keep_weekly", "keep_monthly", "keep_yearly"].map((k) => [`${dest}_${k}`, COUNT]),
    [`${dest}_keep_within`, WITHIN],
  ]),
);

/** Selection keys sov adds to v0.1 configs; v2 puts them in the source block (source-fs options). */
export const V01_SELECTION_KEYS = {
  exclude_caches: { type: "boolean" },
  exclude_if_present: { type: ["array", "null"], items: { type: "string", minLength: 1 } },
  one_file_system: { type: "boolean" },
  exclude_larger_than: { type: ["string", "integer"] },
  exclude_from: { anyOf: [{ type: "string", minLength: 1 }, { type: "array", items: { type: "string", minLength: 1 } }] },
  include_from: { anyOf: [{ type: "string", minLength: 1 }, { type: "array", items: { type: "string", minLength: 1 } }] },
} as const;

/** Keys sov adds to both formats (the bash tool had none of them). */
const SOV_EXTENSIONS = {
  failure_hook: PATH_OR_EMPTY,
  metrics_textfile: PATH_OR_EMPTY,
  max_archive_age_hours: { type: "number", exclusiveMinimum: 0 },
};

/** The bash tool's format; `coerceTypes` accepts its quoted numbers (`local_days: "14"`). */
export const V01_SCHEMA = {
  type: "object",
  required: ["sources", "age_recipient"],
  properties: {
    host: HOST,
    sources: { type: "array", minItems: 1, items: { type: "string", minLength: 1 } },
    exclusions: { type: ["array", "null"], items: { type: "string", minLength: 1 } },
    destinations: {
      type: ["object", "null"],
      properties: {
        local: PATH_OR_EMPTY,
        usb_label: PATH_OR_EMPTY,
        usb_subdir: PATH_OR_EMPTY,
      },
    },
    retention: { type: ["object", "null"], properties: V01_RETENTION_PROPERTIES },
    age_recipient: { type: "string", minLength: 1 },
    compressor: { enum: ["auto", "zstd", "lz4", "gzip", "pigz", "none"] },
    pre_hook: PATH_OR_EMPTY,
    post_hook: PATH_OR_EMPTY,
    schedule: { type: ["object", "null"] },
    ...SOV_EXTENSIONS,
    ...V01_SELECTION_KEYS,
  },
} as const;

/** Keys the bash tool knew; anything else in a v0.1 file is warned about and ignored. */
export const V01_KNOWN_KEYS: Record<string, readonly string[] | true> = {
  host: true,
  sources: true,
  exclusions: true,
  destinations: ["local", "usb_label", "usb_subdir"],
  retention: Object.keys(V01_RETENTION_PROPERTIES),
  age_recipient: true,
  compressor: true,
  pre_hook: true,
  post_hook: true,
  schedule: true,
  failure_hook: true,
  metrics_textfile: true,
  max_archive_age_hours: true,
  exclude_caches: true,
  exclude_if_present: true,
  one_file_system: true,
  exclude_larger_than: true,
  exclude_from: true,
  include_from: true,
};

const STAGE_BLOCK = {
  type: "object",
  properties: { plugin: { type: "string", minLength: 1 } },
};

/** The sov format: `version: 2`, an explicit chain of plugins. Unknown keys are errors here. */
export const V2_SCHEMA = {
  type: "object",
  required: ["version", "source", "encrypt", "destinations"],
  properties: {
    version: { const: 2 },
    host: HOST,
    source: STAGE_BLOCK,
    compress: { anyOf: [STAGE_BLOCK, { const: "none" }, { type: "null" }] },
    encrypt: STAGE_BLOCK,
    destinations: {
      type: "array",
      minItems: 1,
      items: {
        type: "object",
        required: ["plugin"],
        properties: {
          name: { type: "string", pattern: "^[a-z0-9][a-z0-9_-]*$", maxLength: 64 },
          plugin: { type: "string", minLength: 1 },
          retention: RETENTION_SCHEMA,
        },
      },
    },
    hooks: {
      type: "object",
      properties: { pre: PATH_OR_EMPTY, post: PATH_OR_EMPTY, failure: PATH_OR_EMPTY, on_pre_failure: { enum: ["abort", "continue"] } },
      additionalProperties: false,
    },
    schedule: { type: ["object", "null"] },
    metrics_textfile: SOV_EXTENSIONS.metrics_textfile,
    max_archive_age_hours: SOV_EXTENSIONS.max_archive_age_hours,
  },
  additionalProperties: false,
} as const;
