// A third-party plugin the way an operator gets one: its author builds and packs it with npm,
// the operator installs the .tgz with plain `npm install` in the config directory (no registry:
// @sov/core is an optional peer), and `sov run` as root uses it with sov's own core, whatever
// copy of @sov/core the plugin carries. And wherever a plugin resolved from, as root its entry
// file passes the trust checks.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { ConfigError, loadPlugin, resolvePluginsBeside } from "@sov/core";
import { makeFixture, type Fixture } from "../run/fixture.js";
import { DIRECTORY_DESTINATION_IMPORTS, DIRECTORY_DESTINATION_JS } from "./js-destination.js";
import { needRoot, needTools, REPO, scratch } from "../helpers.js";

const guide = readFileSync(join(REPO, "core", "PLUGINS.md"), "utf8");

/** The fenced block after `<!-- doc-test: NAME -->` in core/PLUGINS.md. */
function guideBlock(name: string): string {
  const marker = `<!-- doc-test: ${name} -->`;
  const block = /```\w*\n([\s\S]*?)```/.exec(guide.slice(guide.indexOf(marker)))?.[1];
  assert.ok(guide.includes(marker) && block, `core/PLUGINS.md must keep a code block under ${marker}`);
  return block;
}

/** npm as the operator's host runs it, with no registry: everything comes from the tarballs given. */
function npm(cwd: string, ...args: string[]): string {
  return execFileSync("npm", [...args, "--offline", "--no-audit", "--no-fund", "--loglevel=error"], { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/**
 * npm as the plugin's author runs it, on a machine with a registry: typescript, @types/node and
 * the core's own dependencies come from npm's cache where it has them (a fresh CI machine's cache
 * holds the tarballs `npm ci` fetched but none of the package metadata `npm install` asks for).
 */
function authorNpm(cwd: string, ...args: string[]): string {
  return execFileSync("npm", [...args, "--prefer-offline", "--no-audit", "--no-fund", "--loglevel=error"], { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/** `npm pack` in `dir`, into `into`; returns the tarball's path. */
function pack(dir: string, into: string): string {
  const name = npm(dir, "pack", "--pack-destination", into).trim().split("\n").pop()!;
  return join(into, name);
}

test("the guide's example plugin, built and packed as PLUGINS.md says, installs with npm install in the config directory; sov run writes through it as root and sov restore reads back through it", (t) => {
  if (!needTools(t, "age-keygen", "npm") || !needRoot(t)) return;
  const fx = makeFixture(t, "npm-install");
  const author = join(fx.dir, "author");
  mkdirSync(join(author, "src"), { recursive: true });
  writeFileSync(join(author, "package.json"), guideBlock("example-package-json"));
  writeFileSync(join(author, "tsconfig.json"), guideBlock("example-tsconfig"));
  writeFileSync(join(author, "src", "index.ts"), guideBlock("example-destination"));
  // The core tarball the guide tells an author to put beside package.json.
  const coreTarball = pack(join(REPO, "core"), fx.dir);
  copyFileSync(coreTarball, join(author, "sov-core-0.1.0.tgz"));
  authorNpm(author, "install");
  const pluginTarball = pack(author, fx.dir);
  assert.match(pluginTarball, /sov-plugin-dest-example-1\.0\.0\.tgz$/);

  const etc = join(fx.dir, "etc");
  npm(etc, "install", pluginTarball);
  assert.equal(existsSync(join(etc, "node_modules", "@sov", "core")), false, "the optional peer is not installed");
  const nas = join(fx.dir, "nas");
  fx.writeV2Config(`destinations:
  - { name: nas, plugin: sov-plugin-dest-example, dir: ${nas} }
`);
  const listed = fx.run(["list"]);
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, /plugin nas: sov-plugin-dest-example <- sov-plugin-dest-example/);
  // 24 MiB that does not compress: several frames, so one file can be fetched by ranged reads
  mkdirSync(join(fx.data, "bulk"));
  for (let i = 0; i < 3; i++) writeFileSync(join(fx.data, "bulk", `blob${i}.bin`), randomBytes(8 * 1024 * 1024));
  const res = fx.run(["run"]);
  assert.equal(res.code, 0, res.stderr + res.stdout);
  assert.equal(readdirSync(nas).filter((n) => n.endsWith(".age")).length, 1, "the plugin's destination holds the archive");

  // restore reads it back through the plugin: the whole archive, and one file by ranged reads
  const whole = join(fx.dir, "restored");
  const restored = fx.run(["restore", "--latest", whole, "--identity", fx.identity]);
  assert.equal(restored.code, 0, restored.stderr + restored.stdout);
  assert.match(restored.stdout, /newest archive of testhost: .* \(nas\)/);
  assert.deepEqual(readFileSync(join(whole, fx.data.slice(1), "big/random.bin")), readFileSync(join(fx.data, "big/random.bin")));
  const one = join(fx.dir, "one-file");
  const partial = fx.run(["restore", "--latest", one, "--path", `${fx.data.slice(1)}/etc/app.conf`, "--identity", fx.identity]);
  assert.equal(partial.code, 0, partial.stderr + partial.stdout);
  assert.match(partial.stdout, /the archive's index holds 1 of its \d+ entries/);
  assert.equal(readFileSync(join(one, fx.data.slice(1), "etc/app.conf"), "utf8"), readFileSync(join(fx.data, "etc/app.conf"), "utf8"));
});

/**
 * A destination that imports the core (and a subpath) and carries its own stale @sov/core in its
 * tarball (bundleDependencies): that copy throws when imported, so the run only succeeds if the
 * plugin got the running core.
 */
function writeStaleCorePlugin(author: string): void {
  const stale = join(author, "node_modules", "@sov", "core");
  mkdirSync(stale, { recursive: true });
  writeFileSync(join(stale, "package.json"), JSON.stringify({ name: "@sov/core", version: "0.0.1-stale", type: "module", exports: { ".": "./index.js", "./format": "./index.js" } }));
  writeFileSync(join(stale, "index.js"), 'throw new Error("the stale @sov/core copy in the plugin\'s node_modules was loaded");\n');
  mkdirSync(join(author, "dist"));
  writeFileSync(
    join(author, "package.json"),
    JSON.stringify({
      name: "sov-plugin-dest-bundled",
      version: "1.0.0",
      type: "module",
      exports: { ".": "./dist/index.js" },
      files: ["dist"],
      dependencies: { "@sov/core": "0.0.1-stale" },
      bundleDependencies: ["@sov/core"],
    }),
  );
  writeFileSync(
    join(author, "dist", "index.js"),
    `${DIRECTORY_DESTINATION_IMPORTS}
import { definePlugin } from "@sov/core";
import { formatBytes } from "@sov/core/format";
${DIRECTORY_DESTINATION_JS}
const NAME = "sov-plugin-dest-bundled";
export default definePlugin({
  name: NAME,
  stage: "destination",
  optionsSchema: { type: "object", required: ["dir"], properties: { dir: { type: "string" } }, additionalProperties: false },
  apply(hooks, options, ctx) {
    hooks.destination.tapPromise(NAME, async (destinations) => {
      ctx.log.info("bundled plugin sees " + formatBytes(2048));
      destinations.add(directoryDestination(ctx.instance, options.dir));
    });
  },
});
`,
  );
}

/** The bundled plugin packed and npm-installed in a fixture's config directory, and a config using it. */
function installBundledPlugin(t: TestContext, label: string): { fx: Fixture; etc: string; out: string } {
  const fx = makeFixture(t, label);
  const author = join(fx.dir, "author");
  writeStaleCorePlugin(author);
  const etc = join(fx.dir, "etc");
  npm(etc, "install", pack(author, fx.dir));
  const out = join(fx.dir, "bundled");
  fx.writeV2Config(`destinations:
  - { name: bundled, plugin: sov-plugin-dest-bundled, dir: ${out} }
`);
  return { fx, etc, out };
}

test("a plugin installed with its own stale copy of @sov/core gets the running core: one copy", (t) => {
  if (!needTools(t, "age-keygen", "npm") || !needRoot(t)) return;
  const { fx, etc, out } = installBundledPlugin(t, "npm-bundled");
  assert.ok(existsSync(join(etc, "node_modules", "sov-plugin-dest-bundled", "node_modules", "@sov", "core", "index.js")), "npm installed the stale copy");
  const res = fx.run(["run"]);
  assert.equal(res.code, 0, res.stderr + res.stdout);
  assert.match(res.stdout, /bundled plugin sees 2\.0 KiB/);
  assert.equal(readdirSync(out).filter((n) => n.endsWith(".age")).length, 1);
});

test("as root, an installed plugin whose entry file is mode 0666 is refused (exit 2), nothing read or written", (t) => {
  if (!needTools(t, "age-keygen", "npm") || !needRoot(t)) return;
  const { fx, etc, out } = installBundledPlugin(t, "npm-loose");
  chmodSync(join(etc, "node_modules", "sov-plugin-dest-bundled", "dist", "index.js"), 0o666);
  const res = fx.run(["run"]);
  assert.equal(res.code, 2, res.stderr + res.stdout);
  assert.match(res.stderr, /plugin sov-plugin-dest-bundled: file .*index\.js is writable by group or others \(mode 666\)/);
  assert.equal(existsSync(out), false, "the destination was never opened");
  assert.equal(existsSync(fx.lockDir), false, "no lock was taken");
});

test("as root, a package resolved beside sov gets the same trust checks: 0666 or under a 1777 directory is refused", async (t) => {
  if (!needRoot(t)) return;
  // A global install: <prefix>/lib/node_modules/@sov/cli, with a plugin installed next to it.
  const prefix = scratch(t, "beside");
  const modules = join(prefix, "lib", "node_modules");
  mkdirSync(join(modules, "@sov", "cli"), { recursive: true });
  resolvePluginsBeside(join(modules, "@sov", "cli"));
  const pkg = join(modules, "sov-plugin-dest-beside");
  mkdirSync(pkg);
  writeFileSync(join(pkg, "package.json"), JSON.stringify({ name: "sov-plugin-dest-beside", version: "1.0.0", type: "module", main: "index.js" }));
  const marker = join(prefix, "plugin-code-ran");
  writeFileSync(join(pkg, "index.js"), `import { writeFileSync } from "node:fs";\nwriteFileSync(${JSON.stringify(marker)}, "ran");\nexport default {};\n`);
  const configDir = join(prefix, "etc");
  mkdirSync(configDir);

  chmodSync(join(pkg, "index.js"), 0o666);
  await assert.rejects(loadPlugin("sov-plugin-dest-beside", configDir, "destination"), (err: unknown) => {
    assert.ok(err instanceof ConfigError && err.exitCode === 2);
    assert.match(err.message, /plugin sov-plugin-dest-beside: file .*index\.js is writable by group or others \(mode 666\)/);
    return true;
  });
  chmodSync(join(pkg, "index.js"), 0o644);
  chmodSync(pkg, 0o1777);
  await assert.rejects(loadPlugin("sov-plugin-dest-beside", configDir, "destination"), /is writable by group or others \(mode 1777\); move the file to a root-owned directory/);
  assert.equal(existsSync(marker), false, "the refused file was never imported");

  chmodSync(pkg, 0o755); // the control: trusted, so it is imported (and then refused for its shape)
  await assert.rejects(loadPlugin("sov-plugin-dest-beside", configDir, "destination"), /has no name/);
  assert.equal(existsSync(marker), true);
});
