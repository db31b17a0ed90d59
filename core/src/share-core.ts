import * as nodeModule from "node:module";
import { realpath } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { resolve } from "./share-core-hooks.js";

type RegisterHooks = (hooks: { resolve: typeof resolve }) => unknown;

const RUNNING_CORE_DIR = fileURLToPath(new URL("../..", import.meta.url));
let shared = false;

/**
 * One @sov/core per process: a plugin installed with its own copy of the core (npm puts a peer
 * dependency beside it, or a tarball bundles one), or with none it can reach, would otherwise
 * get another class of every error, another hook implementation, or fail to load. Called with
 * a plugin's entry file before it is imported: if `import "@sov/core"` from there would not
 * reach the running core, every such import is mapped to it from then on (share-core-hooks.ts).
 * The built-ins reach it already, so a run with only them pays nothing; Node 22.15+ runs the
 * hook in-thread (`registerHooks`), Node 20 on a loader thread (`register`).
 */
export async function shareRunningCoreWith(pluginEntry: string): Promise<void> {
  if (shared || (await reachesRunningCore(dirname(pluginEntry)))) return;
  shared = true;
  const registerHooks = (nodeModule as unknown as { registerHooks?: RegisterHooks }).registerHooks;
  if (registerHooks) registerHooks({ resolve });
  else nodeModule.register("./share-core-hooks.js", import.meta.url);
}

/** Whether Node's lookup of `@sov/core` from `dir` (the nearest node_modules/@sov/core) finds this core. */
async function reachesRunningCore(dir: string): Promise<boolean> {
  const running = await realpath(RUNNING_CORE_DIR);
  for (; ; dir = dirname(dir)) {
    if (!dir.endsWith("/node_modules")) {
      const found = await realpath(join(dir, "node_modules", "@sov", "core")).catch(() => null);
      if (found) return found === running;
    }
    if (dirname(dir) === dir) return false;
  }
}
