import * as nodeModule from "node:module";
import { resolve } from "./share-core-hooks.js";

type RegisterHooks = (hooks: { resolve: typeof resolve }) => unknown;

let shared = false;

/**
 * One @sov/core per process: a plugin installed with its own copy of the core (npm puts a peer
 * dependency beside it, or a tarball bundles one) would otherwise get another class of every
 * error, another hook implementation and another `DirectoryStore`. Called before the first
 * plugin is imported; later calls do nothing. Node 22.15+ runs the hook in-thread
 * (`registerHooks`); Node 20 uses `register`, which runs it on the loader thread.
 */
export function shareRunningCore(): void {
  if (shared) return;
  shared = true;
  const registerHooks = (nodeModule as unknown as { registerHooks?: RegisterHooks }).registerHooks;
  if (registerHooks) registerHooks({ resolve });
  else nodeModule.register("./share-core-hooks.js", import.meta.url);
}
