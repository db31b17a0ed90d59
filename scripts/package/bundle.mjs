// The self-contained tree: the bundled Node.js, sov's packages with production dependencies
// only (native addons compiled against that Node), and bin/ wrappers that find both from
// wherever the tree is unpacked.
import { chmodSync, cpSync, lstatSync, mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { run } from "./exec.mjs";
import { sovNodeEnvLines, sovNodeFlags } from "../../core/cli/dist/src/node-flags.js";

/**
 * Builds `treeDir` (node/, lib/node_modules/, bin/) from the npm pack tarballs. `runtime` is
 * { dir } from fetchRuntime; `commands` the packages with bins.
 */
export function buildTree({ treeDir, tarballs, runtime, commands }) {
  rmSync(treeDir, { recursive: true, force: true });
  mkdirSync(join(treeDir, "node/bin"), { recursive: true });
  cpSync(join(runtime.dir, "bin/node"), join(treeDir, "node/bin/node"));
  // The registry's node carries debug info: a third of its size, and no use on a server.
  run("strip", ["--strip-unneeded", join(treeDir, "node/bin/node")], { quiet: true });
  cpSync(join(runtime.dir, "LICENSE"), join(treeDir, "node/LICENSE"));

  const lib = join(treeDir, "lib");
  mkdirSync(lib);
  // node-gyp compiles zstd-napi against the bundled runtime's headers, run by the bundled node.
  const env = { ...process.env, npm_config_nodedir: runtime.dir, PATH: `${join(runtime.dir, "bin")}:${process.env.PATH}` };
  run("npm", ["install", "--prefix", lib, "--omit=dev", "--no-audit", "--no-fund", "--no-save", "--install-links", ...tarballs], { env });
  // The install's own bookkeeping names this machine's paths; the tree needs none of it.
  for (const file of ["package.json", "package-lock.json", "node_modules/.package-lock.json"]) rmSync(join(lib, file), { force: true });
  // node_modules/.bin links run by `npm exec`, which the tree has no use for.
  rmSync(join(lib, "node_modules/.bin"), { recursive: true, force: true });
  tidyModules(join(lib, "node_modules"));

  mkdirSync(join(treeDir, "bin"));
  for (const pkg of commands) {
    for (const [name, script] of Object.entries(pkg.bin)) {
      const wrapper = join(treeDir, "bin", name);
      writeFileSync(wrapper, wrapperScript(name, `lib/node_modules/${pkg.name}/${script.replace(/^\.\//, "")}`, sovNodeFlags(runtime.version)));
      chmodSync(wrapper, 0o755);
    }
  }
}

/**
 * A bin/ wrapper: resolves its own symlinks (/usr/bin/sov -> /usr/lib/sov/bin/sov), then runs the
 * bundled node with sov's flags for it (core/cli/src/node-flags.ts).
 */
function wrapperScript(name, script, flags) {
  return `#!/bin/sh
# ${name}: runs sov with the Node.js bundled beside it, wherever this tree was unpacked.
root=$(dirname "$(dirname "$(readlink -f "$0")")")
${sovNodeEnvLines().join("\n")}
exec "$root/node/bin/node" ${flags.map((f) => `${f} `).join("")}"$root/${script}" "$@"
`;
}

/** Files only a package's own development uses (lint, VCS and npm settings). */
const DEVELOPMENT_FILES = /^\.(npmignore|gitignore|gitattributes|eslintrc(\..*)?|prettierrc(\..*)?|editorconfig|travis\.yml|nycrc)$/;

/**
 * Leaves what runs: node-gyp's objects and static libraries go, addons are stripped, and no
 * file keeps an exec bit (the bundled node runs every script; nothing else should).
 */
function tidyModules(dir) {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const st = lstatSync(path);
    if (st.isSymbolicLink()) continue;
    if (st.isDirectory()) {
      if (name === "obj.target" || name === ".deps" || name === ".github") rmSync(path, { recursive: true });
      else tidyModules(path);
    } else if (DEVELOPMENT_FILES.test(name) || (name.endsWith(".a") && dir.includes("/build/"))) {
      rmSync(path);
    } else {
      if (name.endsWith(".node")) run("strip", ["--strip-unneeded", path], { quiet: true });
      chmodSync(path, st.mode & 0o666);
    }
  }
}

/** A reproducible .tar.gz of `dir` (named entries, root-owned, one mtime). */
export function tarGz(parent, dir, out, mtime) {
  run("tar", ["--sort=name", "--owner=0", "--group=0", "--numeric-owner", `--mtime=@${mtime}`, "-I", "gzip -n", "-cf", out, "-C", parent, dir]);
}
