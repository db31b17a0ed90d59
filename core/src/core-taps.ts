import type { Chain } from "./chain.js";
import { RunError, errorMessage } from "./errors.js";
import { runHookFile } from "./hook-runner.js";
import type { Logger } from "./log.js";
import type { PruneInfo, RunInfo } from "./plugin.js";
import { lockedPast, selectExpired } from "./retention.js";

/**
 * The stage of the core's own taps. tapable runs lower stages first and a plugin's taps have
 * stage 0, so on `preHook` and `prune` the core's work is done before any plugin's tap runs.
 */
export const CORE_TAP_STAGE = -1000;

/**
 * Taps the core's own behaviour onto the chain's hooks: the config's `pre_hook` script is the
 * first `preHook` tap, retention the first `prune` tap. A real run calls this once, after the
 * lock is taken; `hookEnv` is what the script gets as SOV_* variables.
 */
export function tapCoreHooks(chain: Chain, hookEnv: Record<string, string>, log: Logger): void {
  const { hooks, config } = chain;
  const preHook = config.hooks.pre;
  if (preHook) {
    hooks.preHook.tapPromise({ name: "pre_hook", stage: CORE_TAP_STAGE }, (run) => runPreHookScript(preHook, config.hooks.onPreFailure, run, hookEnv, log));
  }
  hooks.prune.tapPromise({ name: "retention", stage: CORE_TAP_STAGE }, (info) => applyRetention(chain, info, log));
}

/** The config's `pre_hook`; a failure stops the run (exit 1) unless a v0.1 config says go on. */
async function runPreHookScript(path: string, onFailure: "abort" | "continue", run: RunInfo, env: Record<string, string>, log: Logger): Promise<void> {
  log.info(`running pre_hook ${path}`);
  const code = await runHookFile(path, env, log.child("pre_hook"), run.signal);
  if (code === 0) return;
  if (onFailure === "continue") {
    log.warn(`pre_hook ${path} exited ${code}; going on (v0.1 behaviour; set hooks.on_pre_failure: abort in a v2 config to stop)`);
    return;
  }
  throw new RunError(`pre_hook ${path} exited ${code}; nothing was read or written`);
}

/**
 * The retention the config gives each destination (`retention:`), for every destination that
 * committed this run's archive; what it removes goes into `info.pruned` for the taps after it.
 * A destination that cannot be listed or pruned is a warning: its archives are already safe.
 */
async function applyRetention(chain: Chain, info: PruneInfo, log: Logger): Promise<void> {
  for (const { destination, archive: written } of info.committed) {
    const block = chain.destinations.find((d) => d.destination === destination)!.block;
    try {
      const expired = selectExpired(await destination.list(), block.retention, chain.config.host, written.name, info.run.startedAt);
      for (const { archive, reason } of expired) {
        const locked = lockedPast(archive, new Date());
        if (locked) {
          log.info(`kept ${archive.location} (${reason}), locked until ${locked.toISOString()}`);
          continue;
        }
        await destination.remove(archive);
        info.pruned.push(archive);
        log.info(`pruned ${archive.location} (${reason})`);
      }
    } catch (err) {
      log.warn(`destination ${destination.name}: prune failed: ${errorMessage(err)}`);
    }
  }
}
