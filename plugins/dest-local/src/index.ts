import { isAbsolute } from "node:path";
import { ConfigError, definePlugin, DirectoryStore, type Destination, type Logger } from "@sov/core";

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

/** A directory on this host. The core's DirectoryStore does the tmp-then-rename and fsyncs. */
export function localDestination(name: string, options: LocalOptions, log: Logger): Destination {
  if (!isAbsolute(options.path)) throw new ConfigError(`destination ${name}: path ${options.path} must be absolute`);
  const store = new DirectoryStore(options.path, name, log);
  return {
    name,
    describe: () => [`directory ${options.path}`],
    open: () => store.prepare(),
    stage: (archiveName) => store.stage(archiveName),
    list: () => store.list(),
    remove: (archive) => store.remove(archive),
    read: (archive) => store.read(archive),
    readChecksum: (archive) => store.readChecksum(archive),
    close: async () => {},
  };
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
