import { resolve } from "node:path";
import { ConfigError, type OptionsSchema } from "@sov/core";

export interface FsSourceOptions {
  /** Paths to archive, absolute (`/etc`) or relative to `root` (`etc`); both mean `<root>/etc`. */
  paths: string[];
  /** GNU tar `--exclude` patterns. Default: none. */
  exclude?: string[];
  /** The directory paths are relative to and member names start from. Default: `/`. */
  root?: string;
}

export const optionsSchema: OptionsSchema = {
  type: "object",
  additionalProperties: false,
  required: ["paths"],
  properties: {
    paths: { type: "array", minItems: 1, items: { type: "string", minLength: 1 } },
    exclude: { type: "array", items: { type: "string", minLength: 1 }, default: [] },
    root: { type: "string", minLength: 1, default: "/" },
  },
};

/** A configured path as a member name: `/etc`, `etc` and `./etc/` all give `etc`; `/` gives "". */
export function memberName(path: string): string {
  if (path.includes("\0")) throw new ConfigError(`source path ${JSON.stringify(path)}: contains a NUL byte`);
  const parts = path.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.includes("..")) {
    throw new ConfigError(`source path '${path}': '..' is not allowed; write the path without it (paths are relative to root)`);
  }
  return parts.join("/");
}

/** `root` as an absolute path; a relative one is taken from the config file's directory. */
export function resolveRoot(root: string, configDir: string): string {
  if (root.includes("\0")) throw new ConfigError(`source root ${JSON.stringify(root)}: contains a NUL byte`);
  return resolve(configDir, root);
}
