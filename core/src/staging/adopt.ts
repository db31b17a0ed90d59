import type { Destination } from "../plugin.js";
import type { ArchiveStore } from "../storage.js";
import { isArchiveStore } from "./contract-violation.js";
import { CheckedLegacyDestination } from "./legacy-destination.js";
import { LegacyStoreView } from "./legacy-store-view.js";
import { StagedStore, type StagingOptions } from "./staged-store.js";

/**
 * What a destination plugin added becomes what the core uses: an `ArchiveStore` gets the
 * core's staging; a 0.1 `Destination` keeps its own, with the core's run-time checks around it
 * and a read-only store view for restore. Throws a ConfigError for a store of the wrong shape.
 */
export function adoptDestination(added: ArchiveStore | Destination, opts: StagingOptions): { destination: Destination; store: ArchiveStore } {
  if (isArchiveStore(added)) return { destination: new StagedStore(added, opts), store: added };
  opts.log.debug(`plugin ${opts.plugin} adds a 0.1 Destination (deprecated): the core checks it but cannot stage for it`);
  return { destination: new CheckedLegacyDestination(added, opts.plugin), store: new LegacyStoreView(added) };
}

