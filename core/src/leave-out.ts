import { isAbsolute, resolve } from "node:path";
import type { SovConfig } from "./config/load.js";
import { configuredDestinations } from "./chain.js";
import { errorMessage } from "./errors.js";
import type { Logger } from "./log.js";
import { DEFAULT_LOCK_DIR } from "./lock.js";
import type { LeftOutPath } from "./plugin.js";

/**
 * What no source may archive: sov's own files and every destination on this host. A common
 * first config backs up /data and writes to /data/backups; without this, each archive would
 * hold the ones before it and the temporary file being written.
 * `cliFiles` are the files only the command line knows (the log file, the state file).
 */
export async function pathsToLeaveOut(config: SovConfig, env: NodeJS.ProcessEnv, log: Logger, cliFiles: readonly LeftOutPath[] = []): Promise<LeftOutPath[]> {
  const paths: LeftOutPath[] = [
    ...(await destinationLocalPaths(config, env, log)).map((path) => ({ path, why: "a sov destination" })),
    { path: env.SOVEREIGN_BACKUP_LOCKDIR || DEFAULT_LOCK_DIR, why: "sov's lock" },
    ...(config.metricsTextfile ? [{ path: config.metricsTextfile, why: "sov's metrics file" }] : []),
    ...cliFiles,
  ];
  return paths.filter((p) => p.path && isAbsolute(p.path)).map((p) => ({ path: resolve(p.path), why: p.why }));
}

/**
 * Where each configured destination keeps its archives on this host, as its store declares it
 * (`features.localPath`, or a removable medium's mount point): all of them, not only the ones
 * this run writes, since a source must not archive any of them. Each destination is loaded on
 * its own and touches no storage; one that cannot be loaded is skipped here (if the run selects
 * it, building the chain reports why, with exit 2), so `--target` still works around it.
 */
export async function destinationLocalPaths(config: SovConfig, env: NodeJS.ProcessEnv, log: Logger): Promise<string[]> {
  const paths: string[] = [];
  for (const block of config.destinations) {
    try {
      const [one] = await configuredDestinations({ ...config, destinations: [block] }, log, env);
      const where = one?.store.features.localPath ?? one?.store.features.removable?.mountPoint;
      if (where) paths.push(where);
    } catch (err) {
      log.debug(`destination ${block.name}: not loaded to find its local path: ${errorMessage(err)}`);
    }
  }
  return paths;
}
