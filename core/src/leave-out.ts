import { isAbsolute, resolve } from "node:path";
import type { SovConfig } from "./config/load.js";
import { DEFAULT_LOCK_DIR } from "./lock.js";
import type { LeftOutPath } from "./plugin.js";

/**
 * What no source may archive: sov's own files and every destination on this host. A common
 * first config backs up /data and writes to /data/backups; without this, each archive would
 * hold the ones before it and the temporary file being written.
 * `cliFiles` are the files only the command line knows (the log file, the state file).
 */
export function pathsToLeaveOut(config: SovConfig, env: NodeJS.ProcessEnv, cliFiles: readonly LeftOutPath[] = []): LeftOutPath[] {
  const paths: LeftOutPath[] = [
    ...destinationLocalPaths(config).map((path) => ({ path, why: "a sov destination" })),
    { path: env.SOVEREIGN_BACKUP_LOCKDIR || DEFAULT_LOCK_DIR, why: "sov's lock" },
    ...(config.metricsTextfile ? [{ path: config.metricsTextfile, why: "sov's metrics file" }] : []),
    ...cliFiles,
  ];
  return paths.filter((p) => p.path && isAbsolute(p.path)).map((p) => ({ path: resolve(p.path), why: p.why }));
}

/**
 * The directory on this host where each configured destination keeps its archives (all of them,
 * not only the ones this run writes: a source must not archive any of them).
 * TODO(features.localPath): take the storage contract's `features.localPath` of each destination
 * instead; until then a block's `path` option is read here, and only here.
 */
export function destinationLocalPaths(config: SovConfig): string[] {
  return config.destinations.flatMap((block) => {
    const path = block.options.path;
    return typeof path === "string" && isAbsolute(path) ? [path] : [];
  });
}
