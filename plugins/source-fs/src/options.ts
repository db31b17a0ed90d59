import { resolve } from "node:path";
import { ConfigError, type OptionsSchema } from "@sov/core";

export interface FsSourceOptions {
  /** Paths to archive, absolute (`/etc`) or relative to `root` (`etc`); both mean `<root>/etc`. */
  paths: string[];
  /** GNU tar `--exclude` patterns. Default: none. */
  exclude?: string[];
  /** The directory paths are relative to and member names start from. Default: `/`. */
  root?: string;
  /** Like GNU tar `--exclude-caches`: a directory with a valid CACHEDIR.TAG keeps only the tag. Default: false. */
  exclude_caches?: boolean;
  /** A directory holding an entry with one of these names is left out entirely. Default: none. */
  exclude_if_present?: string[];
  /** Like GNU tar `--one-file-system`: mount points below a source are archived empty. Default: false. */
  one_file_system?: boolean;
  /** Regular files larger than this are left out: bytes, or `10k`, `500M`, `2G`, `1T` (powers of 1024). */
  exclude_larger_than?: string | number;
  /** Files of exclusion patterns, one a line (like `tar -X`); relative to the config file's directory. */
  exclude_from?: string | string[];
  /** Files of paths to archive, one a line (like `tar -T`), added to `paths`. */
  include_from?: string | string[];
}

/** `2G`, `500m`, `10k`, `1048576`: digits and an optional binary unit (K, M, G, T; either case). */
const SIZE_PATTERN = "^\\s*[0-9]+\\s*[KkMmGgTt]?\\s*$";
const FILE_LIST = { type: ["string", "array"], minLength: 1, items: { type: "string", minLength: 1 } };

export const optionsSchema: OptionsSchema = {
  type: "object",
  additionalProperties: false,
  required: ["paths"],
  properties: {
    paths: { type: "array", minItems: 1, items: { type: "string", minLength: 1 } },
    exclude: { type: "array", items: { type: "string", minLength: 1 }, default: [] },
    root: { type: "string", minLength: 1, default: "/" },
    exclude_caches: { type: "boolean", default: false },
    // a name with a slash could never match a directory entry
    exclude_if_present: { type: "array", items: { type: "string", minLength: 1, pattern: "^[^/]+$" }, default: [] },
    one_file_system: { type: "boolean", default: false },
    // `pattern` applies to the string form only, `minimum` to the number
    exclude_larger_than: { type: ["string", "integer"], pattern: SIZE_PATTERN, minimum: 0 },
    exclude_from: FILE_LIST,
    include_from: FILE_LIST,
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

const UNIT_POWERS: Readonly<Record<string, number>> = { "": 0, k: 1, m: 2, g: 3, t: 4 };

/** `exclude_larger_than` in bytes: a number of bytes, or digits and a unit K/M/G/T (powers of 1024). */
export function parseSize(value: string | number): number {
  if (typeof value === "number") {
    if (Number.isSafeInteger(value) && value >= 0) return value;
    throw new ConfigError(`exclude_larger_than ${value}: not a whole number of bytes`);
  }
  const match = /^\s*(\d+)\s*([kmgt]?)\s*$/i.exec(value);
  const bytes = match ? Number(match[1]) * 1024 ** UNIT_POWERS[match[2]!.toLowerCase()]! : NaN;
  if (!Number.isSafeInteger(bytes)) {
    throw new ConfigError(`exclude_larger_than '${value}': not a size; write bytes or a number with K, M, G or T (powers of 1024), e.g. 500M or 2G`);
  }
  return bytes;
}

/** A `string | string[]` option as a list. */
export function asList(value: string | readonly string[] | undefined): readonly string[] {
  return value === undefined ? [] : typeof value === "string" ? [value] : value;
}
