#!/usr/bin/env node
// `npm run package`: release artifacts for linux-x64 in dist-release/, from a checkout with
// `npm ci` done: npm pack tarballs of sov's packages, a self-contained tarball with its own
// Node.js, and a .deb of the same tree. The build host needs npm's registry, python3, make and
// g++ (zstd-napi compiles), strip and dpkg-deb; the target host needs none of them.
import { mkdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { buildInfo, BUILD_INFO_FILE, writeBuildInfo } from "./package/build-info.mjs";
import { buildTree, tarGz } from "./package/bundle.mjs";
import { buildDeb } from "./package/deb.mjs";
import { run } from "./package/exec.mjs";
import { fetchRuntime } from "./package/runtime.mjs";
import { releasePackages } from "./package/workspaces.mjs";

const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
const out = join(root, "dist-release");
const work = join(out, ".work");

const started = Date.now();
const { commands, packages } = releasePackages(root);
const version = commands[0].version;
const info = buildInfo(root, version);
const mtime = Math.floor(new Date(info.builtAt).getTime() / 1000);
console.log(`sov ${version} (${info.commit}): packaging ${packages.map((p) => p.name).join(", ")}`);

run(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-b"], { cwd: root });

for (const name of ["npm", ".work/stage", ".work/deb"]) rmSync(join(out, name), { recursive: true, force: true });
mkdirSync(join(out, "npm"), { recursive: true });

// 1. npm pack tarballs, with build-info.json in each command package.
const removeBuildInfo = writeBuildInfo(commands.map((c) => c.path), info);
let packed;
try {
  packed = JSON.parse(run("npm", ["pack", "--json", "--pack-destination", join(out, "npm"), ...packages.flatMap((p) => ["-w", p.name])], { cwd: root }));
} finally {
  removeBuildInfo();
}
for (const c of commands) {
  const entry = packed.find((p) => p.name === c.name);
  if (!entry.files.some((f) => f.path === BUILD_INFO_FILE)) {
    throw new Error(`${c.name}'s tarball lacks ${BUILD_INFO_FILE}: add it to "files" in ${relative(root, c.path)}/package.json`);
  }
}
const tarballs = packed.map((p) => join(out, "npm", p.filename));

// 2. The self-contained tree and its tarball.
const runtime = fetchRuntime(join(out, ".cache"));
const treeName = `sov-${version}-linux-x64`;
const tree = join(work, "stage", treeName);
buildTree({ treeDir: tree, tarballs, runtime, commands });
smokeTest(tree);
const tarball = join(out, `${treeName}.tar.gz`);
tarGz(join(work, "stage"), treeName, tarball, mtime);

// 3. The .deb of the same tree.
const deb = buildDeb({ tree, version, commands, out, work: join(work, "deb"), mtime, runtimeVersion: runtime.version });

console.log(`\nNode.js ${runtime.version} bundled; built in ${((Date.now() - started) / 1000).toFixed(0)} s:`);
for (const file of [...tarballs, tarball, deb]) console.log(`  ${(statSync(file).size / 1e6).toFixed(1).padStart(6)} MB  ${relative(root, file)}`);

/** The bundled node loads every plugin (zstd's addon included) and runs a demo backup. */
function smokeTest(dir) {
  const version = run(join(dir, "bin/sov"), ["--version"]).trim();
  console.log(`  ${version}`);
  const demo = join(work, "smoke-demo");
  rmSync(demo, { recursive: true, force: true });
  run(join(dir, "bin/sov"), ["demo", "--dir", demo]);
  rmSync(demo, { recursive: true, force: true });
}
