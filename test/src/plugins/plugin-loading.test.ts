// How sov finds and trusts plugins, with the real `sov` command and a v2 config naming each
// plugin: plugin code runs as root, so an absolute path gets the hook checks, a package name
// resolves beside sov or in the config directory's node_modules and never from the current
// directory, and every way a plugin can be broken stops the run with exit 2, naming the plugin,
// before the lock, the pre hook or the source is touched.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdirSync, readdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { ageKeypair, needRoot, needTools, scratch, SOV_BIN, SOV_NODE_FLAGS } from "../helpers.js";
import { DIRECTORY_DESTINATION_IMPORTS, DIRECTORY_DESTINATION_JS } from "./js-destination.js";

interface PluginShape {
  importThrows?: boolean;
  applyThrows?: boolean;
  tapThrows?: boolean;
  /** The destination hook throws what a ConfigError from the plugin's own copy of @sov/core looks like. */
  tapThrowsForeignConfigError?: boolean;
  /** Replaces the options schema. */
  schema?: unknown;
  /** Adds the destination under this name instead of ctx.instance. */
  addName?: string;
  stage?: string;
  noDefaultExport?: boolean;
}

/**
 * npm installs a plugin's peer dependency @sov/core beside it in the config directory, so the
 * plugin's ConfigError is another copy of the class: same name, same exitCode, not instanceof.
 */
const FOREIGN_CONFIG_ERROR = `class SovError extends Error { constructor(m, exitCode) { super(m); this.name = new.target.name; this.exitCode = exitCode; } }
      class ConfigError extends SovError { constructor(m) { super(m, 2); } }
      throw new ConfigError("destination " + ctx.instance + ": key file /nonexistent is missing");`;

/**
 * A destination plugin module as it would be installed: a directory, tmp-then-link on commit.
 * `describe()` says which file was loaded, so `sov list` shows where it resolved from.
 */
function pluginModule(name: string, shape: PluginShape = {}): string {
  const schema = shape.schema ?? { type: "object", required: ["dir"], properties: { dir: { type: "string", minLength: 1 } }, additionalProperties: false };
  return `${DIRECTORY_DESTINATION_IMPORTS}
${shape.importThrows ? 'throw new Error("boom on import");' : ""}
${DIRECTORY_DESTINATION_JS}
const NAME = ${JSON.stringify(name)};
const plugin = {
  name: NAME,
  stage: ${JSON.stringify(shape.stage ?? "destination")},
  optionsSchema: ${JSON.stringify(schema)},
  apply(hooks, options, ctx) {
    ${shape.applyThrows ? 'throw new Error("boom in apply");' : ""}
    hooks.destination.tapPromise(NAME, async (destinations) => {
      ${shape.tapThrows ? 'throw new Error("boom in the destination hook");' : ""}
      ${shape.tapThrowsForeignConfigError ? FOREIGN_CONFIG_ERROR : ""}
      const destination = directoryDestination(${shape.addName ? JSON.stringify(shape.addName) : "ctx.instance"}, options.dir);
      destinations.add({ ...destination, describe: () => ["loaded from " + import.meta.url] });
    });
  },
};
${shape.noDefaultExport ? "export const notThePlugin = plugin;" : "export default plugin;"}
`;
}

interface Case {
  dir: string;
  etc: string;
  configFile: string;
  backups: string;
  pluginDir: string;
  lockDir: string;
  preHookMarker: string;
  /** Writes a v2 config: local + a destination `thirdparty` using `plugin` with `options`. */
  writeConfig(plugin: string, options?: Record<string, unknown>): void;
  /** Writes a trusted plugin file (root-owned, 0644, in a 0755 directory) and returns its path. */
  writePluginFile(name: string, shape?: PluginShape): string;
  /** Installs a package `name` into `<root>/node_modules` (the config dir's, or any other). */
  installPackage(root: string, name: string, shape?: PluginShape, exportsField?: unknown): string;
  run(args: string[], opts?: { cwd?: string; env?: Record<string, string> }): { code: number; stdout: string; stderr: string };
}

function makeCase(t: TestContext, label: string): Case {
  const dir = scratch(t, `plugins-${label}`);
  const { recipient } = ageKeypair(dir);
  const recipients = join(dir, "recipients.txt");
  writeFileSync(recipients, `${recipient}\n`);
  const data = join(dir, "data");
  mkdirSync(data);
  writeFileSync(join(data, "file.txt"), "payload\n");
  const etc = join(dir, "etc");
  mkdirSync(etc, { mode: 0o755 });
  const pluginDir = join(dir, "plugins");
  mkdirSync(pluginDir, { mode: 0o755 });
  chmodSync(pluginDir, 0o755);
  const preHookMarker = join(dir, "pre-hook-ran");
  const preHook = join(dir, "pre.sh");
  writeFileSync(preHook, `#!/bin/sh\ntouch ${preHookMarker}\n`, { mode: 0o755 });
  chmodSync(preHook, 0o755);
  const backups = join(dir, "backups");
  const lockDir = join(dir, "lock");
  const configFile = join(etc, "config.yaml");
  const env = { SOVEREIGN_BACKUP_CONFIG_DIR: etc, SOVEREIGN_BACKUP_LOCKDIR: lockDir, SOVEREIGN_BACKUP_LOG: join(dir, "sov.log") };
  return {
    dir, etc, configFile, backups, pluginDir, lockDir, preHookMarker,
    writeConfig(plugin, options = { dir: join(dir, "thirdparty") }) {
      const lines = Object.entries(options).map(([k, v]) => `    ${k}: ${JSON.stringify(v)}`);
      writeFileSync(
        configFile,
        [
          "version: 2",
          "host: plugintest",
          "source:",
          "  plugin: fs",
          `  paths: [${data}]`,
          "compress: none",
          "encrypt:",
          "  plugin: age",
          `  recipients_file: ${recipients}`,
          "destinations:",
          "  - name: local",
          "    plugin: local",
          `    path: ${backups}`,
          "  - name: thirdparty",
          `    plugin: ${JSON.stringify(plugin)}`,
          ...lines,
          "hooks:",
          `  pre: ${preHook}`,
          "",
        ].join("\n"),
      );
    },
    writePluginFile(name, shape = {}) {
      const file = join(pluginDir, `${name}.mjs`);
      writeFileSync(file, pluginModule(name, shape), { mode: 0o644 });
      chmodSync(file, 0o644);
      return file;
    },
    installPackage(root, name, shape = {}, exportsField) {
      const pkg = join(root, "node_modules", name);
      mkdirSync(pkg, { recursive: true });
      const manifest: Record<string, unknown> = { name, version: "1.0.0", type: "module", main: "index.js" };
      if (exportsField) manifest.exports = exportsField;
      writeFileSync(join(pkg, "package.json"), JSON.stringify(manifest, null, 2));
      writeFileSync(join(pkg, "index.js"), pluginModule(name, shape));
      return pkg;
    },
    run(args, opts = {}) {
      const res = spawnSync(process.execPath, [...SOV_NODE_FLAGS, SOV_BIN, ...args], {
        cwd: opts.cwd ?? dir,
        env: { ...process.env, ...env, ...opts.env },
        encoding: "utf8",
        timeout: 120_000,
      });
      return { code: res.status ?? -1, stdout: res.stdout, stderr: res.stderr };
    },
  };
}

/** Exit 2, the plugin named with the cause, and nothing done: no archive, no lock, no pre hook. */
function assertRefused(c: Case, res: { code: number; stderr: string; stdout: string }, name: string, cause: RegExp): void {
  assert.equal(res.code, 2, `exit 2 expected:\n${res.stderr}${res.stdout}`);
  assert.ok(res.stderr.includes(name), `stderr names the plugin '${name}':\n${res.stderr}`);
  assert.match(res.stderr, cause);
  assert.ok(!existsSync(c.backups) || readdirSync(c.backups).length === 0, "no archive was written");
  assert.equal(existsSync(c.lockDir), false, "no lock was taken");
  assert.equal(existsSync(c.preHookMarker), false, "the pre hook did not run (so no source was read)");
  assert.equal(existsSync(join(c.dir, "thirdparty")), false, "the plugin's destination was not opened");
}

function setup(t: TestContext, label: string, opts: { root?: boolean } = {}): Case | null {
  if (!needTools(t, "age-keygen")) return null;
  if (opts.root && !needRoot(t)) return null;
  return makeCase(t, label);
}

test("a trusted absolute-path plugin loads and runs: the control for the refusals below", (t) => {
  const c = setup(t, "abs-ok");
  if (!c) return;
  const file = c.writePluginFile("sov-plugin-dest-abs");
  c.writeConfig(file);
  const listed = c.run(["list"]);
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, new RegExp(`loaded from file://${file.replace(/[.]/g, "\\.")}`));
  const res = c.run(["run"]);
  assert.equal(res.code, 0, res.stderr + res.stdout);
  assert.equal(readdirSync(join(c.dir, "thirdparty")).filter((n) => n.endsWith(".age")).length, 1, "the plugin's destination got the archive");
});

test("an absolute-path plugin owned by another user is refused (exit 2)", (t) => {
  const c = setup(t, "abs-owner", { root: true });
  if (!c) return;
  const file = c.writePluginFile("sov-plugin-dest-owner");
  chownSync(file, 65534, 65534);
  c.writeConfig(file);
  assertRefused(c, c.run(["run"]), file, /owned by uid 65534, not root/);
});

test("a group-writable absolute-path plugin is refused (exit 2)", (t) => {
  const c = setup(t, "abs-gw", { root: true });
  if (!c) return;
  const file = c.writePluginFile("sov-plugin-dest-groupwritable");
  chmodSync(file, 0o664);
  c.writeConfig(file);
  assertRefused(c, c.run(["run"]), file, /writable by group or others \(mode 664\)/);
});

test("an absolute-path plugin in a group-writable directory is refused (exit 2)", (t) => {
  const c = setup(t, "abs-dir", { root: true });
  if (!c) return;
  const file = c.writePluginFile("sov-plugin-dest-loosedir");
  chmodSync(c.pluginDir, 0o775);
  c.writeConfig(file);
  assertRefused(c, c.run(["run"]), file, new RegExp(`directory ${c.pluginDir} is writable by group or others`));
});

test("a symlinked absolute-path plugin is refused (exit 2)", (t) => {
  const c = setup(t, "abs-link");
  if (!c) return;
  const real = c.writePluginFile("sov-plugin-dest-real");
  const link = join(c.pluginDir, "sov-plugin-dest-link.mjs");
  symlinkSync(real, link);
  c.writeConfig(link);
  assertRefused(c, c.run(["run"]), link, /is a symlink/);
});

test("a relative plugin path is refused (exit 2)", (t) => {
  const c = setup(t, "relative");
  if (!c) return;
  c.writePluginFile("sov-plugin-dest-rel");
  c.writeConfig("./plugins/sov-plugin-dest-rel.mjs");
  assertRefused(c, c.run(["run"]), "./plugins/sov-plugin-dest-rel.mjs", /relative paths are not allowed/);
});

test("an unknown package name is refused, naming where sov looked (exit 2)", (t) => {
  const c = setup(t, "unknown");
  if (!c) return;
  c.writeConfig("sov-plugin-dest-does-not-exist");
  assertRefused(c, c.run(["run"]), "sov-plugin-dest-does-not-exist", new RegExp(`not installed .*${join(c.etc, "node_modules")}`));
});

test("a package only in the current directory's node_modules does not resolve (exit 2)", (t) => {
  const c = setup(t, "cwd");
  if (!c) return;
  const cwd = join(c.dir, "operator-cwd");
  c.installPackage(cwd, "sov-plugin-dest-cwdonly");
  c.writeConfig("sov-plugin-dest-cwdonly");
  assertRefused(c, c.run(["run"], { cwd }), "sov-plugin-dest-cwdonly", /not installed/);
});

test("a package in the config directory's node_modules resolves and runs", (t) => {
  const c = setup(t, "configdir");
  if (!c) return;
  const pkg = c.installPackage(c.etc, "sov-plugin-dest-cfgdir");
  c.writeConfig("sov-plugin-dest-cfgdir");
  const listed = c.run(["list"]);
  assert.equal(listed.code, 0, listed.stderr);
  assert.match(listed.stdout, new RegExp(`loaded from file://${join(pkg, "index.js").replace(/[.]/g, "\\.")}`));
  assert.match(listed.stdout, /plugin thirdparty: sov-plugin-dest-cfgdir/);
  const res = c.run(["run"]);
  assert.equal(res.code, 0, res.stderr + res.stdout);
  assert.equal(readdirSync(join(c.dir, "thirdparty")).filter((n) => n.endsWith(".age")).length, 1);
});

test("options that break the plugin's schema are refused with the config line and the plugin's name (exit 2)", (t) => {
  const c = setup(t, "options");
  if (!c) return;
  c.installPackage(c.etc, "sov-plugin-dest-strict");
  c.writeConfig("sov-plugin-dest-strict", { dir: 42 });
  assertRefused(c, c.run(["run"]), "sov-plugin-dest-strict", /config\.yaml:\d+: destinations\[1\]\.dir: \(sov-plugin-dest-strict\) must be string/);
  c.writeConfig("sov-plugin-dest-strict", { dir: join(c.dir, "thirdparty"), colour: "blue" });
  assertRefused(c, c.run(["run"]), "sov-plugin-dest-strict", /config\.yaml:\d+: destinations\[1\]\.colour: \(sov-plugin-dest-strict\) unknown key/);
});

test("a plugin whose apply() throws is refused with its name and the cause (exit 2)", (t) => {
  const c = setup(t, "apply");
  if (!c) return;
  c.installPackage(c.etc, "sov-plugin-dest-applythrows", { applyThrows: true });
  c.writeConfig("sov-plugin-dest-applythrows");
  assertRefused(c, c.run(["run"]), "sov-plugin-dest-applythrows", /apply\(\) failed: boom in apply/);
});

test("a plugin whose module throws on import is refused with its name and the cause (exit 2)", (t) => {
  const c = setup(t, "import");
  if (!c) return;
  c.installPackage(c.etc, "sov-plugin-dest-importthrows", { importThrows: true });
  c.writeConfig("sov-plugin-dest-importthrows");
  assertRefused(c, c.run(["run"]), "sov-plugin-dest-importthrows", /failed to load: boom on import/);
});

test("a plugin with an invalid options schema is refused (exit 2)", (t) => {
  const c = setup(t, "schema");
  if (!c) return;
  // only the meta-schema check catches this one (ajv's compiler takes a negative maxLength)
  c.installPackage(c.etc, "sov-plugin-dest-badschema", { schema: { type: "object", properties: { dir: { type: "string", maxLength: -1 } } } });
  c.writeConfig("sov-plugin-dest-badschema");
  assertRefused(c, c.run(["run"]), "sov-plugin-dest-badschema", /invalid options schema/);
});

test("a module without a default export, or a plugin of another stage, is refused (exit 2)", (t) => {
  const c = setup(t, "shape");
  if (!c) return;
  c.installPackage(c.etc, "sov-plugin-dest-noexport", { noDefaultExport: true });
  c.writeConfig("sov-plugin-dest-noexport");
  assertRefused(c, c.run(["run"]), "sov-plugin-dest-noexport", /no default export/);
  c.installPackage(c.etc, "sov-plugin-dest-wrongstage", { stage: "source" });
  c.writeConfig("sov-plugin-dest-wrongstage");
  assertRefused(c, c.run(["run"]), "sov-plugin-dest-wrongstage", /is a 'source' plugin, configured as 'destination'/);
});

test("a plugin that adds no destination under the configured name is refused (exit 2)", (t) => {
  const c = setup(t, "noname");
  if (!c) return;
  c.installPackage(c.etc, "sov-plugin-dest-wrongname", { addName: "something-else" });
  c.writeConfig("sov-plugin-dest-wrongname");
  assertRefused(c, c.run(["run"]), "thirdparty", /added no destination named 'thirdparty'/);
});

// Gaps the loader once had: a '..' package name escaping node_modules, NODE_PATH, ESM-only
// packages, hook errors while the chain is built, and a plugin's own copy of @sov/core.

test(
  "a package name with '..' segments cannot reach a file outside node_modules (exit 2, nothing loaded)",
  (t) => {
    const c = setup(t, "traversal");
    if (!c) return;
    const marker = join(c.dir, "evil-code-ran");
    const evil = join(c.pluginDir, "evil.mjs");
    writeFileSync(evil, `import { writeFileSync } from "node:fs";\nwriteFileSync(${JSON.stringify(marker)}, "ran as uid " + process.getuid());\n${pluginModule("sov-plugin-dest-evil")}`);
    chmodSync(evil, 0o666);
    chmodSync(c.pluginDir, 0o777);
    c.installPackage(c.etc, "sov-plugin-dest-cfgdir"); // any plugin installed in the config directory
    const spec = "sov-plugin-dest-x/../../../plugins/evil.mjs";
    c.writeConfig(spec);
    const res = c.run(["list"]);
    assert.equal(existsSync(marker), false, "the world-writable file must never be imported");
    assert.equal(res.code, 2, res.stderr);
    assert.ok(res.stderr.includes(spec));
  },
);

test(
  "a plugin whose destination hook throws is refused with its name and the cause (exit 2)",
  (t) => {
    const c = setup(t, "tap");
    if (!c) return;
    c.installPackage(c.etc, "sov-plugin-dest-tapthrows", { tapThrows: true });
    c.writeConfig("sov-plugin-dest-tapthrows");
    assertRefused(c, c.run(["run"]), "sov-plugin-dest-tapthrows", /boom in the destination hook/);
  },
);

test(
  "a ConfigError from the plugin's own copy of @sov/core still exits 2",
  (t) => {
    const c = setup(t, "foreign-error");
    if (!c) return;
    c.installPackage(c.etc, "sov-plugin-dest-owncore", { tapThrowsForeignConfigError: true });
    c.writeConfig("sov-plugin-dest-owncore");
    assertRefused(c, c.run(["run"]), "sov-plugin-dest-owncore", /destination thirdparty: key file \/nonexistent is missing/);
  },
);

test(
  "NODE_PATH pointing at the current directory does not make a package resolve from it (exit 2)",
  (t) => {
    const c = setup(t, "nodepath");
    if (!c) return;
    const cwd = join(c.dir, "operator-cwd");
    c.installPackage(cwd, "sov-plugin-dest-nodepath");
    c.writeConfig("sov-plugin-dest-nodepath");
    assertRefused(c, c.run(["run"], { cwd, env: { NODE_PATH: "node_modules" } }), "sov-plugin-dest-nodepath", /not installed/);
  },
);

test(
  "an ESM-only package (exports with only an 'import' condition) in the config directory resolves",
  (t) => {
    const c = setup(t, "esm-only");
    if (!c) return;
    c.installPackage(c.etc, "sov-plugin-dest-esmonly", {}, { ".": { import: "./index.js" } });
    c.writeConfig("sov-plugin-dest-esmonly");
    const listed = c.run(["list"]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /plugin thirdparty: sov-plugin-dest-esmonly/);
  },
);
