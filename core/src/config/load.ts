import { hostname } from "node:os";
import { dirname, isAbsolute, resolve } from "node:path";
import { ConfigError } from "../errors.js";
import type { Logger } from "../log.js";
import { compileSchema, validateOrThrow } from "./ajv.js";
import { V01_KNOWN_KEYS, V01_SCHEMA, V01_SELECTION_KEYS, V2_SCHEMA } from "./schema.js";
import { YamlConfigDocument, type ConfigPath } from "./yaml-document.js";
import { createYamlExplorer } from "./yaml-explorer.js";

export const DEFAULT_CONFIG_DIR = "/etc/sovereign-backup";
/** A daily timer with a randomized delay stays under this when healthy. */
export const DEFAULT_MAX_ARCHIVE_AGE_HOURS = 26;
/** Where the bash tool wrote when `destinations.local` was not set. */
export const V01_DEFAULT_LOCAL = "/data/backups";

/** One stage's plugin as the config chose it. */
export interface PluginBlock {
  /** As written: a built-in short name (`zstd`), an npm package name, or an absolute path. */
  readonly plugin: string;
  readonly options: Record<string, unknown>;
  /** Where option `key` is in the YAML, for error messages. */
  locate(key: ConfigPath): ConfigPath;
}

export type { RetentionPolicy } from "../retention.js";
import type { RetentionPolicy } from "../retention.js";
import { RETENTION_KEYS } from "../retention.js";

export interface DestinationBlock extends PluginBlock {
  readonly name: string;
  readonly retention: RetentionPolicy;
}

export interface SovConfig {
  readonly file: string;
  readonly dir: string;
  readonly format: "v0.1" | "v2";
  readonly host: string;
  readonly source: PluginBlock;
  /** Null means no compression (`compressor: none`): archives are `.tar.age`. */
  readonly compress: PluginBlock | null;
  readonly encrypt: PluginBlock;
  readonly destinations: readonly DestinationBlock[];
  readonly hooks: {
    readonly pre: string | null;
    readonly post: string | null;
    /** Runs when a run fails, so an operator can page themselves. */
    readonly failure: string | null;
    /** v0.1 configs keep the bash tool's behaviour (warn and go on); v2 aborts by default. */
    readonly onPreFailure: "abort" | "continue";
  };
  /** Destinations a run writes when `--target` is not given: v0.1 `local`, v2 all of them. */
  readonly defaultTargets: readonly string[];
  /** A Prometheus node_exporter textfile, rewritten atomically after every run. */
  readonly metricsTextfile: string | null;
  /** `sov status` fails when the newest archive is older than this. */
  readonly maxArchiveAgeHours: number;
  /** Informational (the systemd timer's settings); a run never acts on it. */
  readonly schedule: Readonly<Record<string, unknown>>;
  readonly document: YamlConfigDocument;
}

export interface LoadConfigOptions {
  configPath?: string | undefined;
  env?: NodeJS.ProcessEnv;
  log: Logger;
}

export function shortHostname(): string {
  return hostname().split(".")[0] || "localhost";
}

/**
 * Finds and reads the config: `--config PATH`, else `<dir>/<hostname -s>.yaml`, else
 * `<dir>/config.yaml`, where `<dir>` is `$SOVEREIGN_BACKUP_CONFIG_DIR` or /etc/sovereign-backup.
 */
export async function loadConfig(opts: LoadConfigOptions): Promise<SovConfig> {
  const env = opts.env ?? process.env;
  const dir = resolve(env.SOVEREIGN_BACKUP_CONFIG_DIR || DEFAULT_CONFIG_DIR);
  const host = shortHostname();
  const explorer = createExplorer([`${host}.yaml`, "config.yaml"]);
  let result: { filepath: string; config?: unknown } | null;
  try {
    result = opts.configPath ? await explorer.load(resolve(opts.configPath)) : await explorer.search(dir);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    const e = err as NodeJS.ErrnoException;
    if (e.code === "ENOENT" || e.code === "EACCES" || e.code === "EISDIR") {
      throw new ConfigError(`cannot read config ${opts.configPath}: ${e.code}`);
    }
    throw new ConfigError(`cannot read config: ${e.message}`);
  }
  if (!result) {
    throw new ConfigError(`no config found: looked for ${dir}/${host}.yaml and ${dir}/config.yaml (use --config PATH)`);
  }
  const document = result.config as YamlConfigDocument | undefined;
  if (!document) throw new ConfigError(`${result.filepath}: the config file is empty`);
  return interpretConfig(document, opts.log);
}

/** Reads a config from text, for tests and for the embedded demo. */
export function parseConfigText(file: string, text: string, log: Logger): SovConfig {
  return interpretConfig(YamlConfigDocument.parse(file, text), log);
}

/**
 * cosmiconfig's search (the search places, in order) with the YAML loader only. Built without
 * its public factory: that one reads a "meta config" (`package.json`, `.config/config.js`, ...)
 * from the current directory and would run JavaScript found there, and sov runs as root from
 * wherever an operator stands. No process-wide chdir either (see yaml-explorer.ts).
 */
function createExplorer(searchPlaces: string[]) {
  return createYamlExplorer("sovereign-backup", searchPlaces, (file, text) => YamlConfigDocument.parse(file, text), (file) => {
    throw new ConfigError(`${file}: sov reads YAML configs only (.yaml, .yml)`);
  });
}

// Compiled on first use: only one of them is needed per run, and compiling costs start-up time.
let validateV01: ReturnType<typeof compileSchema> | undefined;
let validateV2: ReturnType<typeof compileSchema> | undefined;

function interpretConfig(doc: YamlConfigDocument, log: Logger): SovConfig {
  const data = doc.data;
  if (data === null || data === undefined) throw new ConfigError(`${doc.file}: the config file is empty`);
  if (typeof data !== "object" || Array.isArray(data)) throw doc.error([], "the config must be a mapping of keys to values");
  const isV2 = Object.hasOwn(data, "version");
  return isV2 ? interpretV2(doc, data as Record<string, unknown>) : interpretV01(doc, data as Record<string, unknown>, log);
}

const identity = (p: ConfigPath) => p;

function block(plugin: string, options: Record<string, unknown>, locate: (key: ConfigPath) => ConfigPath): PluginBlock {
  return { plugin, options, locate };
}

function interpretV01(doc: YamlConfigDocument, raw: Record<string, unknown>, log: Logger): SovConfig {
  warnUnknownV01Keys(doc, raw, log);
  const known = Object.fromEntries(Object.entries(raw).filter(([k]) => k in V01_KNOWN_KEYS));
  validateV01 ??= compileSchema(V01_SCHEMA, { coerce: true, own: true });
  validateOrThrow(validateV01, known, doc, identity);
  const c = known as {
    host?: string;
    sources: string[];
    exclusions?: string[] | null;
    destinations?: { local?: string | null; usb_label?: string | null; usb_subdir?: string | null } | null;
    retention?: Record<string, number | string> | null;
    age_recipient: string;
    compressor?: string;
    pre_hook?: string | null;
    post_hook?: string | null;
    failure_hook?: string | null;
    metrics_textfile?: string | null;
    max_archive_age_hours?: number;
    schedule?: Record<string, unknown> | null;
  };
  const dir = dirname(doc.file);
  const destinations: DestinationBlock[] = [];
  // The bash tool's defaults: /data/backups, 14 days local, 90 days on the stick.
  destinations.push({
    ...block("local", { path: c.destinations?.local || V01_DEFAULT_LOCAL }, () => ["destinations", "local"]),
    name: "local",
    retention: v01Retention(c.retention, "local", 14),
  });
  if (c.destinations?.usb_label) {
    const options: Record<string, unknown> = { label: c.destinations.usb_label };
    if (c.destinations.usb_subdir) options.subdir = c.destinations.usb_subdir;
    destinations.push({
      ...block("usb", options, (key) => ["destinations", key[0] === "subdir" ? "usb_subdir" : "usb_label"]),
      name: "usb",
      retention: v01Retention(c.retention, "usb", 90),
    });
  }
  const compressor = c.compressor ?? "auto";
  const compressPlugin = { auto: "zstd", zstd: "zstd", lz4: "lz4", gzip: "gzip", pigz: "gzip", none: null }[compressor] ?? null;
  return {
    file: doc.file,
    dir,
    format: "v0.1",
    host: c.host ?? shortHostname(),
    source: block("fs", v01SourceOptions(known, c.sources, c.exclusions ?? []), (key) =>
      key[0] === "exclude" ? ["exclusions", ...key.slice(1)] : key[0] === "paths" ? ["sources", ...key.slice(1)] : key,
    ),
    compress: compressPlugin ? block(compressPlugin, {}, () => ["compressor"]) : null,
    encrypt: block("age", { recipients_file: resolveFrom(dir, c.age_recipient) }, () => ["age_recipient"]),
    destinations,
    hooks: { pre: c.pre_hook || null, post: c.post_hook || null, failure: c.failure_hook || null, onPreFailure: "continue" },
    metricsTextfile: c.metrics_textfile || null,
    maxArchiveAgeHours: c.max_archive_age_hours ?? DEFAULT_MAX_ARCHIVE_AGE_HOURS,
    defaultTargets: ["local"],
    schedule: c.schedule ?? {},
    document: doc,
  };
}

/** The bash tool's sources and exclusions, plus sov's selection keys, as source-fs options. */
function v01SourceOptions(known: Record<string, unknown>, paths: string[], exclude: string[]): Record<string, unknown> {
  const options: Record<string, unknown> = { paths, exclude };
  for (const key of Object.keys(V01_SELECTION_KEYS)) {
    if (known[key] !== undefined && known[key] !== null) options[key] = known[key];
  }
  return options;
}

/** v0.1 keeps `local_days`/`usb_days` and gains `local_keep_daily`, `usb_keep_within`, ... */
function v01Retention(r: Record<string, number | string> | null | undefined, dest: string, defaultDays: number): RetentionPolicy {
  const policy: Record<string, number | string> = { days: (r?.[`${dest}_days`] as number | undefined) ?? defaultDays };
  for (const key of RETENTION_KEYS) {
    const value = r?.[`${dest}_${key}`];
    if (value !== undefined) policy[key] = value;
  }
  return policy as unknown as RetentionPolicy;
}

function warnUnknownV01Keys(doc: YamlConfigDocument, raw: Record<string, unknown>, log: Logger): void {
  for (const [key, value] of Object.entries(raw)) {
    const known = V01_KNOWN_KEYS[key];
    if (!known) {
      log.warn(`${doc.where([key])}: unknown key '${key}' ignored`);
    } else if (Array.isArray(known) && value && typeof value === "object" && !Array.isArray(value)) {
      for (const sub of Object.keys(value)) {
        if (!known.includes(sub)) log.warn(`${doc.where([key, sub])}: unknown key '${key}.${sub}' ignored`);
      }
    }
  }
}

function interpretV2(doc: YamlConfigDocument, raw: Record<string, unknown>): SovConfig {
  validateV2 ??= compileSchema(V2_SCHEMA, { own: true });
  validateOrThrow(validateV2, raw, doc, identity);
  const dir = dirname(doc.file);
  const stage = (key: string, value: unknown, fallback: string): PluginBlock => {
    const { plugin, ...options } = (value ?? {}) as Record<string, unknown>;
    return block(typeof plugin === "string" ? plugin : fallback, options, (k) => [key, ...k]);
  };
  const names = new Set<string>();
  const destinations = (raw.destinations as Array<Record<string, unknown>>).map((d, i): DestinationBlock => {
    const { plugin, name, retention, ...options } = d as { plugin: string; name?: string; retention?: Partial<RetentionPolicy> };
    const destName = name ?? plugin.replace(/^.*[/]/, "").replace(/^sov-plugin-dest-|^dest-/, "").toLowerCase();
    if (names.has(destName)) throw doc.error(["destinations", i, "name"], `destination name '${destName}' is used twice; give each a distinct name`);
    names.add(destName);
    return { ...block(plugin, options, (k) => ["destinations", i, ...k]), name: destName, retention: { ...retention, days: retention?.days ?? 0 } };
  });
  const hooks = (raw.hooks ?? {}) as { pre?: string | null; post?: string | null; failure?: string | null; on_pre_failure?: "abort" | "continue" };
  return {
    file: doc.file,
    dir,
    format: "v2",
    host: (raw.host as string | undefined) ?? shortHostname(),
    source: stage("source", raw.source, "fs"),
    compress: raw.compress === "none" || raw.compress === null ? null : stage("compress", raw.compress, "zstd"),
    encrypt: stage("encrypt", raw.encrypt, "age"),
    destinations,
    hooks: { pre: hooks.pre || null, post: hooks.post || null, failure: hooks.failure || null, onPreFailure: hooks.on_pre_failure ?? "abort" },
    metricsTextfile: (raw.metrics_textfile as string | null | undefined) || null,
    maxArchiveAgeHours: (raw.max_archive_age_hours as number | undefined) ?? DEFAULT_MAX_ARCHIVE_AGE_HOURS,
    defaultTargets: destinations.map((d) => d.name),
    schedule: (raw.schedule as Record<string, unknown> | undefined) ?? {},
    document: doc,
  };
}

function resolveFrom(dir: string, path: string): string {
  return isAbsolute(path) ? path : resolve(dir, path);
}

