import { ConfigError } from "../errors.js";
import type { ArchiveStore } from "../storage.js";

/**
 * A destination did not keep its side of the storage contract (something visible under a final
 * name before the core published it, a wrong size after publish, a temporary left after abort).
 * The message names the plugin package, so the user knows whom to report it to; the run fails.
 */
export class ContractViolation extends Error {
  constructor(
    readonly plugin: string,
    readonly destination: string,
    what: string,
  ) {
    super(`plugin ${plugin} broke the storage contract for destination ${destination}: ${what}`);
    this.name = "ContractViolation";
  }
}

/** A store's own `NameTakenError`, also when the plugin was built against another copy of the core. */
export function isNameTaken(err: unknown): boolean {
  const e = err as { name?: unknown; code?: unknown } | null;
  return !!e && (e.name === "NameTakenError" || e.code === "EEXIST");
}

/** Whether a destination plugin added an `ArchiveStore` (the storage contract) or a 0.1 `Destination`. */
export function isArchiveStore(value: unknown): value is ArchiveStore {
  const v = value as Partial<ArchiveStore> | null;
  return !!v && typeof v === "object" && !!v.features && typeof v.features === "object" && typeof v.list === "function";
}

/** Checked while the chain is built: a store missing what its `features.publish` needs is a config error (exit 2). */
export function checkStoreShape(store: ArchiveStore, plugin: string): void {
  const has = (member: keyof ArchiveStore) => typeof store[member] === "function";
  const missing: string[] = (["describe", "open", "close", "list", "stat", "read", "remove"] as const).filter((m) => !has(m));
  const { publish } = store.features;
  if (publish === "rename") missing.push(...(["writeTemporary", "publish"] as const).filter((m) => !has(m)));
  else if (publish === "upload") missing.push(...(["beginUpload"] as const).filter((m) => !has(m)));
  else {
    throw new ConfigError(`plugin ${plugin}: destination ${store.name} declares features.publish ${JSON.stringify(publish)}; it must be "rename" or "upload"`);
  }
  if (missing.length > 0) {
    throw new ConfigError(`plugin ${plugin}: destination ${store.name} (features.publish "${publish}") lacks ${missing.map((m) => `${m}()`).join(", ")}; see the storage contract in PLUGINS.md`);
  }
}
