import type { DestinationBlock, PluginBlock, SovConfig } from "./config/load.js";
import { ConfigError, SovError, errorMessage } from "./errors.js";
import { createStageHooks } from "./hooks.js";
import { applyPlugin, loadPlugin, validatePluginOptions } from "./loader.js";
import type { Logger } from "./log.js";
import type { ArchiveSource, Compressor, Destination, Encryptor, RunInfo, Stage, StageHooks } from "./plugin.js";
import { adoptDestination, checkLocalPaths } from "./staging/index.js";
import type { ArchiveStore } from "./storage.js";

/** A config turned into live stage objects, ready to run; building it reads no source data. */
export interface Chain {
  readonly config: SovConfig;
  readonly hooks: StageHooks;
  readonly source: ArchiveSource;
  readonly compressor: Compressor | null;
  readonly encryptor: Encryptor;
  readonly destinations: ReadonlyArray<ChainDestination>;
  /** `plugin name <- where it was loaded from` for each stage, for `sov list`. */
  readonly plugins: ReadonlyArray<{ stage: Stage; instance: string; name: string; from: string }>;
}

/** A configured destination, as the run, prune taps and restore use it. */
export interface ChainDestination {
  readonly block: DestinationBlock;
  /** The plugin package that provided it: contract errors name it. */
  readonly plugin: string;
  /** Staged, listed and checked by the core (its staging over the store, or a checked 0.1 destination). */
  readonly destination: Destination;
  /** The storage contract's view: the plugin's `ArchiveStore`, or a read-only view of a 0.1 destination. */
  readonly store: ArchiveStore;
}

/**
 * Loads, checks and applies every plugin the config names (only the selected destinations),
 * then asks each stage hook for its product. Every problem here is a config problem: exit 2,
 * before the lock, before any hook or source is touched.
 */
export async function buildChain(
  config: SovConfig,
  selected: readonly DestinationBlock[],
  run: RunInfo,
  log: Logger,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Chain> {
  const hooks = createStageHooks();
  const plugins: Array<{ stage: Stage; instance: string; name: string; from: string }> = [];

  const use = async (stage: Exclude<Stage, "preHook" | "prune">, block: PluginBlock, instance: string) => {
    plugins.push(await usePlugin(hooks, config, stage, block, instance, log, env));
  };

  await use("source", config.source, "source");
  if (config.compress) await use("compress", config.compress, "compress");
  await use("encrypt", config.encrypt, "encrypt");
  for (const block of selected) await use("destination", block, block.name);

  requireTaps(hooks, "source", 1, 1);
  requireTaps(hooks, "compress", 0, 1);
  requireTaps(hooks, "encrypt", 1, 1);

  const source = await asConfigError(hooks.source.promise(run));
  if (!source) throw new ConfigError("the source plugin provided no source");
  const compressor = config.compress ? ((await asConfigError(hooks.compress.promise(run))) ?? null) : null;
  if (config.compress && !compressor) throw new ConfigError("the compress plugin provided no compressor");
  const encryptor = await asConfigError(hooks.encrypt.promise(run));
  if (!encryptor) throw new ConfigError("the encrypt plugin provided no encryptor: sov never writes plaintext archives");

  const destinations = await collectDestinations(hooks, selected, plugins, run, log);
  await checkLocalPaths(destinations);
  if (destinations.length === 0) throw new ConfigError("no destination selected");
  return { config, hooks, source, compressor, encryptor, destinations, plugins };
}

/**
 * The destinations as their plugins declare them, without the source, compress and encrypt
 * stages and without touching storage: what `sov install` needs to know of each (a local path
 * for ReadWritePaths=, a removable medium's mount point) comes from its store's features.
 */
export async function configuredDestinations(config: SovConfig, log: Logger, env: NodeJS.ProcessEnv = process.env): Promise<ChainDestination[]> {
  const hooks = createStageHooks();
  const plugins = [];
  for (const block of config.destinations) plugins.push(await usePlugin(hooks, config, "destination", block, block.name, log, env));
  const run: RunInfo = { host: config.host, startedAt: new Date(), dryRun: true, signal: new AbortController().signal };
  return collectDestinations(hooks, config.destinations, plugins, run, log);
}

type LoadedPlugin = Chain["plugins"][number];

async function usePlugin(
  hooks: StageHooks,
  config: SovConfig,
  stage: Exclude<Stage, "preHook" | "prune">,
  block: PluginBlock,
  instance: string,
  log: Logger,
  env: NodeJS.ProcessEnv,
): Promise<LoadedPlugin> {
  const loaded = await loadPlugin(block.plugin, config.dir, stage);
  const { plugin, from } = loaded;
  const options = validatePluginOptions(loaded, block, config.document);
  applyPlugin(plugin, hooks, options, { instance, host: config.host, configDir: config.dir, log: log.child(instance), env });
  return { stage, instance, name: plugin.name, from };
}

/** Asks the destination hook for its products, one per selected block, adopted by the core's staging. */
async function collectDestinations(
  hooks: StageHooks,
  selected: readonly DestinationBlock[],
  plugins: readonly LoadedPlugin[],
  run: RunInfo,
  log: Logger,
): Promise<ChainDestination[]> {
  const collected: Array<ArchiveStore | Destination> = [];
  await asConfigError(hooks.destination.promise({ add: (d) => void collected.push(d) }, run));
  return selected.map((block) => {
    const added = collected.find((d) => d.name === block.name);
    if (!added) throw new ConfigError(`destination ${block.name}: its plugin added no destination named '${block.name}'`);
    const plugin = plugins.find((p) => p.stage === "destination" && p.instance === block.name)!.name;
    const adopted = adoptDestination(added, { plugin, log: log.child(block.name), host: run.host, uploadsAbandonedBefore: () => run.lockedAt });
    return { block, plugin, ...adopted };
  });
}

/**
 * While the chain is built nothing has been read: whatever a plugin throws then (a recipients
 * file it cannot parse, a bug) stops the run before the lock, as a config error (exit 2).
 */
async function asConfigError<T>(pending: Promise<T>): Promise<T> {
  try {
    return await pending;
  } catch (err) {
    if (err instanceof SovError) throw err;
    throw new ConfigError(errorMessage(err), { cause: err });
  }
}

function requireTaps(hooks: StageHooks, stage: "source" | "compress" | "encrypt", min: number, max: number): void {
  const count = hooks[stage].taps.length;
  if (count < min || count > max) {
    const want = min === max ? `exactly ${min}` : `${min} to ${max}`;
    throw new ConfigError(`the ${stage} stage needs ${want} plugin(s), ${count} tapped it`);
  }
}

/**
 * Picks destinations by `--target`: v0.1 names (`local`, `usb`, `both`) or names from the
 * config. Without it, the config's default: `local` for v0.1 (as the bash tool), all for v2.
 */
export function selectDestinations(config: SovConfig, targets: readonly string[] | undefined): DestinationBlock[] {
  if (!targets || targets.length === 0) targets = config.defaultTargets;
  const wanted = new Set(targets.flatMap((t) => (t === "both" || t === "all" ? config.destinations.map((d) => d.name) : [t])));
  for (const name of wanted) {
    if (!config.destinations.some((d) => d.name === name)) {
      const known = config.destinations.map((d) => d.name).join(", ");
      throw new ConfigError(`--target ${name}: no such destination in ${config.file} (configured: ${known})`);
    }
  }
  return config.destinations.filter((d) => wanted.has(d.name));
}
