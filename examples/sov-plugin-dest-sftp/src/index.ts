import { definePlugin } from "@sov/core";
import { SftpDestination } from "./destination.js";
import { optionsSchema, resolveOptions, type SftpOptions } from "./options.js";

/** The tap name, shown in logs and errors: the npm package name, by convention. */
export const PLUGIN_NAME = "sov-plugin-dest-sftp";

/**
 * An off-site copy over SFTP. `apply()` only taps the destination hook; the key and known_hosts
 * files are read when the core asks for the destination (config time: problems exit 2), the
 * connection is made in `open()` (run time: a dead server fails this destination only).
 */
export default definePlugin<SftpOptions>({
  name: PLUGIN_NAME,
  stage: "destination",
  optionsSchema,
  apply(hooks, options, ctx) {
    hooks.destination.tapPromise(PLUGIN_NAME, async (destinations) => {
      const resolved = resolveOptions(ctx.instance, options, ctx.configDir);
      destinations.add(new SftpDestination(ctx.instance, resolved, ctx.log));
    });
  },
});

export { SftpDestination } from "./destination.js";
export { optionsSchema, resolveOptions, type ResolvedOptions, type SftpOptions } from "./options.js";
export { fingerprint, knownHostsName, matchesHost, parseKnownHosts, pinFor, verifyHostKey, type HostPin, type KnownHostEntry } from "./known-hosts.js";
