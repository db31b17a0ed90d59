import { definePlugin } from "@sov/core";
import { checkListFilesTrusted } from "./list-file.js";
import { type FsSourceOptions, optionsSchema } from "./options.js";
import { createFsSource } from "./source.js";

const PLUGIN_NAME = "@sov/source-fs";

/** The source stage: a POSIX tar stream of local paths, member names relative to `root` (`/`). */
export default definePlugin<FsSourceOptions>({
  name: PLUGIN_NAME,
  stage: "source",
  optionsSchema,
  apply(hooks, options, ctx) {
    hooks.source.tapPromise(PLUGIN_NAME, async (run) => {
      await checkListFilesTrusted(options, ctx.configDir);
      return createFsSource(options, { ...ctx, leaveOut: run.leaveOut ?? [] });
    });
  },
});

export type { FsSourceOptions };
