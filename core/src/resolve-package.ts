import { readFile, realpath } from "node:fs/promises";
import { dirname, isAbsolute, join } from "node:path";
import { fileURLToPath } from "node:url";
import { ConfigError } from "./errors.js";
import { checkTrustedFile } from "./trusted-path.js";

/** A bare npm package name: no path segments, no `..`, nothing a resolver could walk out with. */
const PACKAGE_NAME_RE = /^(@[a-z0-9][a-z0-9._~-]*\/)?[a-z0-9][a-z0-9._~-]*$/;

/**
 * "Beside sov": the directory of the running sov command's package, from which its built-in
 * plugins and globally installed ones resolve. The CLI sets it; without it (a program using the
 * core directly) it is the core's own package.
 */
let sovPackageDir = fileURLToPath(new URL("../..", import.meta.url));

/** Called once by the `sov` command with its own package directory, before any plugin loads. */
export function resolvePluginsBeside(packageDir: string): void {
  sovPackageDir = packageDir;
}

/**
 * The entry file of plugin package `name`, and whether it was found beside sov: beside sov
 * (the `node_modules` of the sov package and of its parents, as Node looks them up, never
 * NODE_PATH or ~/.node_modules), else exactly `<configDir>/node_modules/<name>` (no walking up,
 * never the current directory). Wherever it came from, the entry must lie inside its package
 * and, as root, pass the trust checks of an absolute path: its code runs as root.
 */
export async function resolvePluginPackage(name: string, configDir: string): Promise<{ entry: string; beside: boolean }> {
  if (!PACKAGE_NAME_RE.test(name)) {
    throw new ConfigError(`plugin ${name}: not a package name (use a bare npm name like sov-plugin-x or @scope/x, or an absolute path)`);
  }
  const configModules = join(configDir, "node_modules");
  let packageDir = await findBeside(name);
  let entry = packageDir ? await packageEntry(packageDir) : null;
  const beside = entry !== null;
  if (!entry) {
    packageDir = join(configModules, name);
    entry = await packageEntry(packageDir);
  }
  if (!packageDir || !entry) {
    throw new ConfigError(`plugin ${name} is not installed (looked beside sov in ${sovPackageDir} and in ${configModules}); npm install it there`);
  }
  const real = await realpath(entry).catch(() => null);
  const realDir = await realpath(packageDir).catch(() => null);
  if (!real || !realDir || !real.startsWith(`${realDir}/`)) {
    throw new ConfigError(`plugin ${name}: its entry point ${entry} is missing or lies outside ${packageDir}; refusing`);
  }
  await checkTrustedFile(real, `plugin ${name}`, { executable: false });
  return { entry: real, beside };
}

/** `<dir>/node_modules/<name>` for the sov package's directory and each parent, first hit wins. */
async function findBeside(name: string): Promise<string | null> {
  for (let dir = sovPackageDir; ; dir = dirname(dir)) {
    if (!dir.endsWith("/node_modules")) {
      const candidate = join(dir, "node_modules", name);
      const manifest = await readFile(join(candidate, "package.json"), "utf8").catch(() => null);
      if (manifest !== null) return candidate;
    }
    if (dirname(dir) === dir) return null;
  }
}

/** The file `import` would load from a package directory: exports["."] (import/node/default), main, index.js. */
async function packageEntry(packageDir: string): Promise<string | null> {
  let pkg: { exports?: unknown; main?: unknown };
  try {
    pkg = JSON.parse(await readFile(join(packageDir, "package.json"), "utf8")) as typeof pkg;
  } catch {
    return null;
  }
  const pick = (target: unknown): string | null => {
    if (typeof target === "string") return target;
    if (target && typeof target === "object" && !Array.isArray(target)) {
      const conditions = target as Record<string, unknown>;
      for (const key of ["import", "node", "default"]) {
        const found = key in conditions ? pick(conditions[key]) : null;
        if (found) return found;
      }
    }
    return null;
  };
  const exp = pkg.exports;
  const dot = exp && typeof exp === "object" && !Array.isArray(exp) && "." in exp ? (exp as Record<string, unknown>)["."] : exp;
  const rel = (exp !== undefined ? pick(dot) : null) ?? (typeof pkg.main === "string" ? pkg.main : "index.js");
  if (isAbsolute(rel)) return null;
  return join(packageDir, rel);
}
