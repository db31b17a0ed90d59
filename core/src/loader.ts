import { isAbsolute } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { ValidateFunction } from "ajv";
import { compileSchema, validateOrThrow } from "./config/ajv.js";
import type { PluginBlock, SovConfig } from "./config/load.js";
import type { YamlConfigDocument } from "./config/yaml-document.js";
import { ConfigError, errorMessage } from "./errors.js";
import type { ArchiveDecoder, PluginContext, SovPlugin, Stage, StageHooks } from "./plugin.js";
import { resolvePluginPackage } from "./resolve-package.js";
import { shareRunningCoreWith } from "./share-core.js";
import { checkTrustedFile } from "./trusted-path.js";

/** Short names for the plugins sov ships. They resolve exactly like any third-party package. */
export const BUILTIN_PLUGINS: Readonly<Record<string, string>> = Object.freeze({
  fs: "@sov/source-fs",
  zstd: "@sov/compress-zstd",
  lz4: "@sov/compress-lz4",
  gzip: "@sov/compress-gzip",
  age: "@sov/encrypt-age",
  local: "@sov/dest-local",
  usb: "@sov/dest-usb",
  s3: "@sov/dest-s3",
  rclone: "@sov/dest-rclone",
});

export interface LoadedPlugin {
  readonly plugin: SovPlugin;
  /** Where it came from: a package name or an absolute path. */
  readonly from: string;
  /** One of sov's own plugins, from sov's own install (not a same-named package elsewhere). */
  readonly builtin: boolean;
}

/** sov's own plugins, by package name. */
const BUILTIN_PACKAGES = new Set(Object.values(BUILTIN_PLUGINS));

/**
 * Resolves a plugin named in the config. A package name resolves from where sov is installed,
 * then from the config directory's node_modules; never from the current directory. Either way,
 * and for an absolute path, the file must pass the same trust checks as a hook, since its code
 * runs as root. Its `import "@sov/core"` gets the running core (see share-core.ts).
 */
export async function loadPlugin(spec: string, configDir: string, expected: Stage): Promise<LoadedPlugin> {
  const from = BUILTIN_PLUGINS[spec] ?? spec;
  let url: string;
  let builtin = false;
  if (isAbsolute(from)) {
    await checkTrustedFile(from, `plugin ${from}`, { executable: false });
    url = pathToFileURL(from).href;
  } else if (from.startsWith(".")) {
    throw new ConfigError(`plugin ${from}: relative paths are not allowed; use an absolute path or a package name`);
  } else {
    const { entry, beside } = await resolvePluginPackage(from, configDir);
    url = pathToFileURL(entry).href;
    builtin = beside && BUILTIN_PACKAGES.has(from);
  }
  await shareRunningCoreWith(fileURLToPath(url));
  let mod: Record<string, unknown>;
  try {
    mod = (await import(url)) as Record<string, unknown>;
  } catch (err) {
    throw new ConfigError(`plugin ${from} failed to load: ${errorMessage(err)}`, { cause: err });
  }
  const plugin = (mod.default ?? mod.plugin) as SovPlugin | undefined;
  checkPluginShape(plugin, from, expected);
  return { plugin, from, builtin };
}

function checkPluginShape(plugin: SovPlugin | undefined, from: string, expected: Stage): asserts plugin is SovPlugin {
  if (!plugin || typeof plugin !== "object") throw new ConfigError(`plugin ${from} has no default export`);
  if (typeof plugin.name !== "string" || !plugin.name) throw new ConfigError(`plugin ${from} has no name`);
  if (typeof plugin.apply !== "function") throw new ConfigError(`plugin ${plugin.name} has no apply() function`);
  if (!plugin.optionsSchema || typeof plugin.optionsSchema !== "object") {
    throw new ConfigError(`plugin ${plugin.name} has no optionsSchema`);
  }
  if (plugin.stage !== expected) {
    throw new ConfigError(`plugin ${plugin.name} is a '${plugin.stage}' plugin, configured as '${expected}'`);
  }
}

const validators = new WeakMap<object, ValidateFunction>();

/**
 * Checks a block's options against the plugin's schema, naming the config line at fault. The
 * schema itself is checked against JSON Schema's meta-schema first, unless the plugin is sov's
 * own (LoadedPlugin.builtin), whose schemas its tests check.
 */
export function validatePluginOptions({ plugin, builtin }: LoadedPlugin, block: PluginBlock, doc: YamlConfigDocument): Record<string, unknown> {
  let validate = validators.get(plugin.optionsSchema);
  if (!validate) {
    try {
      validate = compileSchema(plugin.optionsSchema, { own: builtin });
    } catch (err) {
      throw new ConfigError(`plugin ${plugin.name} has an invalid options schema: ${errorMessage(err)}`);
    }
    validators.set(plugin.optionsSchema, validate);
  }
  const options = structuredClone(block.options);
  validateOrThrow(validate, options, doc, block.locate, `(${plugin.name}) `);
  return options;
}

/** Runs `apply()`; a throw there is the plugin's fault and is reported with its name. */
export function applyPlugin(plugin: SovPlugin, hooks: StageHooks, options: Record<string, unknown>, ctx: PluginContext): void {
  try {
    plugin.apply(hooks, Object.freeze(options), ctx);
  } catch (err) {
    if (err instanceof ConfigError) throw err;
    throw new ConfigError(`plugin ${plugin.name}: apply() failed: ${errorMessage(err)}`, { cause: err });
  }
}

/** sov's own compress and encrypt plugins: restore decodes their archives with no config at all. */
const BUILTIN_CODECS = [["age", "encrypt"], ["zstd", "compress"], ["lz4", "compress"], ["gzip", "compress"]] as const;

/**
 * The decoder that reverses an archive-name suffix (`age`, `zst`, `lz4`, `gz`, or a third-party
 * plugin's): the first `decoder` with that extension among the config's compress and encrypt
 * plugins, when there is a config, then sov's own. Restore needs no config, so it goes by the
 * name alone; a plugin the config names that fails to load is an error, not skipped.
 */
export async function loadDecoder(extension: string, config?: Pick<SovConfig, "dir" | "compress" | "encrypt">): Promise<ArchiveDecoder> {
  const candidates: Array<{ spec: string; stage: "compress" | "encrypt"; dir: string }> = [];
  if (config?.compress) candidates.push({ spec: config.compress.plugin, stage: "compress", dir: config.dir });
  if (config) candidates.push({ spec: config.encrypt.plugin, stage: "encrypt", dir: config.dir });
  for (const [spec, stage] of BUILTIN_CODECS) candidates.push({ spec, stage, dir: "/nonexistent" });
  for (const { spec, stage, dir } of candidates) {
    const { plugin } = await loadPlugin(spec, dir, stage);
    if (plugin.decoder?.extension === extension) return plugin.decoder;
  }
  throw new ConfigError(`no plugin decodes '.${extension}' archives`);
}
