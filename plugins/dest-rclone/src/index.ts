import { checkSecretFile, checkTrustedFile, ConfigError, definePlugin, type PluginContext } from "@sov/core";
import { DEFAULT_BINARY, optionsSchema, type RcloneOptions } from "./options.js";
import { RcloneCli } from "./rclone-cli.js";
import { RcloneStore } from "./store.js";

export const PLUGIN_NAME = "@sov/dest-rclone";
export { RcloneStore } from "./store.js";
export type { RcloneOptions } from "./options.js";

/**
 * Checks the binary like a hook (it runs as root) and the config file like a secret, then
 * builds the store. Problems are ConfigErrors (exit 2) before anything is read.
 */
export async function createRcloneStore(options: Readonly<RcloneOptions>, ctx: PluginContext): Promise<RcloneStore> {
  const binary = options.binary ?? DEFAULT_BINARY;
  await checkTrustedFile(binary, "binary", { executable: true });
  if (options.config_file !== undefined) {
    if (!options.config_file.startsWith("/")) throw new ConfigError(`config_file must be an absolute path, not ${options.config_file}`);
    await checkSecretFile(options.config_file, "config_file");
  }
  return new RcloneStore(ctx.instance, options.remote, new RcloneCli(binary, options.config_file, ctx.env ?? process.env));
}

export default definePlugin<RcloneOptions>({
  name: PLUGIN_NAME,
  stage: "destination",
  optionsSchema,
  apply(hooks, options, ctx) {
    hooks.destination.tapPromise(PLUGIN_NAME, async (destinations) => {
      destinations.add(await createRcloneStore(options, ctx));
    });
  },
});
