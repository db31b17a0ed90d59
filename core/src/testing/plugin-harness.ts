import { compileSchema } from "../config/ajv.js";
import { errorMessage } from "../errors.js";
import { createStageHooks } from "../hooks.js";
import type { Logger } from "../log.js";
import type { Destination, PluginContext, RunInfo, SovPlugin, StageHooks } from "../plugin.js";
import { adoptDestination, checkStoreShape, isArchiveStore } from "../staging/index.js";
import type { ArchiveStore } from "../storage.js";

/** A logger that keeps every line in memory, so a test can assert on what a plugin logged. */
export interface RecordingLogger extends Logger {
  /** Every line logged through this logger or its children: `level: scope: message`. */
  readonly lines: string[];
}

export function createRecordingLogger(): RecordingLogger {
  const lines: string[] = [];
  const warnings: string[] = [];
  const make = (scope: string): RecordingLogger => {
    const emit = (level: string, message: string) => {
      const text = scope ? `${scope}: ${message}` : message;
      if (level === "warn") warnings.push(text);
      lines.push(`${level}: ${text}`);
    };
    return {
      debug: (m) => emit("debug", m),
      info: (m) => emit("info", m),
      warn: (m) => emit("warn", m),
      error: (m) => emit("error", m),
      child: (s) => make(scope ? `${scope}/${s}` : s),
      warnings,
      lines,
    };
  };
  return make("");
}

/** A PluginContext for tests; anything not given gets a harmless default. */
export function createPluginContext(ctx: Partial<PluginContext> = {}): PluginContext {
  return {
    instance: ctx.instance ?? "conformance",
    host: ctx.host ?? "conformance",
    configDir: ctx.configDir ?? process.cwd(),
    log: ctx.log ?? createRecordingLogger(),
    env: ctx.env ?? process.env,
  };
}

/** A RunInfo for tests: not a dry run, an AbortSignal that never fires unless you pass one. */
export function createRunInfo(run: Partial<RunInfo> = {}): RunInfo {
  return {
    host: run.host ?? "conformance",
    startedAt: run.startedAt ?? new Date(),
    dryRun: run.dryRun ?? false,
    signal: run.signal ?? new AbortController().signal,
  };
}

/**
 * The checks the core's loader makes on a module's default export, with the same messages in
 * spirit: a name, a stage, an `apply()` function and an options schema ajv can compile.
 */
export function checkPluginShape(plugin: unknown, stage?: SovPlugin["stage"]): asserts plugin is SovPlugin {
  const p = plugin as Partial<SovPlugin> | null | undefined;
  if (!p || typeof p !== "object") throw new Error("the plugin is not an object (is it the module's default export?)");
  if (typeof p.name !== "string" || !p.name) throw new Error("the plugin has no name");
  if (typeof p.apply !== "function") throw new Error(`plugin ${p.name} has no apply() function`);
  if (!p.optionsSchema || typeof p.optionsSchema !== "object") throw new Error(`plugin ${p.name} has no optionsSchema`);
  if (stage && p.stage !== stage) throw new Error(`plugin ${p.name} is a '${String(p.stage)}' plugin, not a '${stage}' plugin`);
  try {
    compileSchema(p.optionsSchema);
  } catch (err) {
    throw new Error(`plugin ${p.name} has an invalid options schema: ${errorMessage(err)}`);
  }
}

/**
 * Checks `options` against the plugin's schema exactly as the core does before `apply()`
 * (same ajv settings, defaults filled in) and returns the options `apply()` would get.
 * Throws with every problem listed when they do not fit.
 */
export function checkPluginOptions<O>(plugin: SovPlugin<O>, options: unknown): O {
  const validate = compileSchema(plugin.optionsSchema);
  const copy = structuredClone(options ?? {}) as O;
  if (!validate(copy)) {
    const problems = (validate.errors ?? []).map((e) => `${e.instancePath || "(options)"} ${e.message ?? e.keyword}`);
    throw new Error(`plugin ${plugin.name}: invalid options: ${problems.join("; ")}`);
  }
  return copy;
}

/**
 * Applies a plugin to a fresh set of stage hooks the way `sov run` does: shape check, options
 * check, `apply()`. Returns the hooks so a test can call them.
 */
export function applyPluginForTest<O>(plugin: SovPlugin<O>, options: unknown, ctx: Partial<PluginContext> = {}): { hooks: StageHooks; ctx: PluginContext } {
  checkPluginShape(plugin);
  const checked = checkPluginOptions(plugin, options);
  const hooks = createStageHooks();
  const context = createPluginContext(ctx);
  plugin.apply(hooks, Object.freeze(checked), context);
  return { hooks, ctx: context };
}

/**
 * A destination plugin's Destination, got exactly the way the core gets it: options checked,
 * `apply()` run, the `destination` hook called with a collector, the destination whose name is
 * `ctx.instance` picked (the core refuses a plugin that adds none under that name), and, for an
 * `ArchiveStore`, the core's staging and run-time checks around it, as in a run.
 */
export async function destinationFromPlugin<O>(
  plugin: SovPlugin<O>,
  options: unknown,
  ctx: Partial<PluginContext> = {},
  run: Partial<RunInfo> = {},
): Promise<Destination> {
  checkPluginShape(plugin, "destination");
  const { hooks, ctx: context } = applyPluginForTest(plugin, options, ctx);
  return adoptDestination(await addedDestination(plugin, hooks, context, run), { plugin: plugin.name, log: context.log, host: context.host }).destination;
}

/**
 * The `ArchiveStore` a destination plugin adds, as the plugin made it (no core staging around
 * it), for tests of the store itself. Throws for a plugin that adds a 0.1 `Destination`.
 */
export async function storeFromPlugin<O>(plugin: SovPlugin<O>, options: unknown, ctx: Partial<PluginContext> = {}, run: Partial<RunInfo> = {}): Promise<ArchiveStore> {
  checkPluginShape(plugin, "destination");
  const { hooks, ctx: context } = applyPluginForTest(plugin, options, ctx);
  const added = await addedDestination(plugin, hooks, context, run);
  if (!isArchiveStore(added)) throw new Error(`plugin ${plugin.name} adds a 0.1 Destination, not an ArchiveStore`);
  checkStoreShape(added, plugin.name);
  return added;
}

async function addedDestination<O>(plugin: SovPlugin<O>, hooks: StageHooks, context: PluginContext, run: Partial<RunInfo>): Promise<ArchiveStore | Destination> {
  const added: Array<ArchiveStore | Destination> = [];
  await hooks.destination.promise({ add: (d) => void added.push(d) }, createRunInfo({ host: context.host, ...run }));
  const destination = added.find((d) => d.name === context.instance);
  if (!destination) {
    const names = added.map((d) => `'${d.name}'`).join(", ") || "none";
    throw new Error(`plugin ${plugin.name} added no destination named '${context.instance}' (it added: ${names}); use ctx.instance as the name`);
  }
  return destination;
}
