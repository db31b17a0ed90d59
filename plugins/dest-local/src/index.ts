import { isAbsolute } from "node:path";
import { ConfigError, definePlugin, DirectoryStore, type ArchiveStore, type Logger } from "@sov/core";

export const PLUGIN_NAME = "@sov/dest-local";

export interface LocalOptions {
  /** The archive directory; created 0700 if missing. */
  path: string;
}

const optionsSchema = {
  type: "object",
  required: ["path"],
  properties: { path: { type: "string", minLength: 1 } },
  additionalProperties: false,
};

/**
 * A directory on this host: the core's DirectoryStore as it is. The core stages, publishes,
 * keeps sidecars and checks the directory's owner and mode (features.localPath).
 */
export function localDestination(name: string, options: LocalOptions, log: Logger): ArchiveStore {
  if (!isAbsolute(options.path)) throw new ConfigError(`destination ${name}: path ${options.path} must be absolute`);
  return new DirectoryStore(options.path, name, log);
}

export default definePlugin<LocalOptions>({
  name: PLUGIN_NAME,
  stage: "destination",
  optionsSchema,
  apply(hooks, options, ctx) {
    hooks.destination.tapPromise(PLUGIN_NAME, async (destinations) => {
      destinations.add(localDestination(ctx.instance, options, ctx.log));
    });
  },
});
