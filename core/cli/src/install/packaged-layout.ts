import { readFileSync } from "node:fs";
import { isAbsolute } from "node:path";
import { RunError } from "@sov/core";

/**
 * Where a distribution package (the .deb that `npm run package` builds) put sov's commands and
 * units. The package manager owns those files, so `sov install` checks them instead of writing
 * its own wrappers in /usr/local/bin, and writes a unit to /etc/systemd/system only when the
 * config needs a different one.
 */
export interface PackagedLayout {
  /** Where the package put `sov` and the compatibility commands, e.g. /usr/bin. */
  readonly binDir: string;
  /** Where the package put the units generated from the example config, e.g. /lib/systemd/system. */
  readonly unitDir: string;
}

/** The file a package writes beside the CLI's package.json. */
export const PACKAGED_LAYOUT_FILE = "packaged-layout.json";

/** The layout in `file`, or null when sov was not installed by a package (no such file). */
export function readPackagedLayout(file: string): PackagedLayout | null {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new RunError(`cannot read ${file}: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new RunError(`${file} is not valid JSON (${(err as Error).message}); reinstall the sov package`);
  }
  const { binDir, unitDir } = (parsed ?? {}) as Record<string, unknown>;
  for (const [key, value] of [["binDir", binDir], ["unitDir", unitDir]] as const) {
    if (typeof value !== "string" || !isAbsolute(value)) throw new RunError(`${file}: ${key} must be an absolute path; reinstall the sov package`);
  }
  return { binDir: binDir as string, unitDir: unitDir as string };
}
