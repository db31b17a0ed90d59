import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { test, type TestContext } from "node:test";
import { needRoot, needTools, REPO } from "../helpers.js";
import { debootstrapRoot, inRoot, mountSystem, runTool, unmountAll, type Result } from "./chroot.js";

// Heavy (a release build and a Debian root): .ci/run runs it once, on one Node version.
// SOV_PACKAGE_TEST=prebuilt tests the artifacts already in dist-release/ (while iterating on the test).
const ENABLED = process.env.SOV_PACKAGE_TEST === "1" || process.env.SOV_PACKAGE_TEST === "prebuilt";
const BUILD = process.env.SOV_PACKAGE_TEST === "1";
const ARCHIVES = "/var/backups/sovereign-backup";
const RELEASE = join(REPO, "dist-release");

function ok(res: Result, what: string): string {
  assert.equal(res.code, 0, `${what} exited ${res.code}:\n${res.stdout}${res.stderr}`);
  return res.stdout + res.stderr;
}

function artifact(pattern: RegExp): string {
  const name = readdirSync(RELEASE).find((f) => pattern.test(f));
  assert.ok(name, `npm run package made no ${pattern} in ${RELEASE}`);
  return join(RELEASE, name);
}

/** name -> sha256 of every file (archives and their .sha256 sidecars) in the root's local destination. */
function archives(root: string): Map<string, string> {
  const dir = join(root, ARCHIVES);
  const out = new Map<string, string>();
  for (const name of existsSync(dir) ? readdirSync(dir) : []) out.set(name, createHash("sha256").update(readFileSync(join(dir, name))).digest("hex"));
  return out;
}

function ageFiles(root: string): number {
  return [...archives(root).keys()].filter((name) => name.endsWith(".age")).length;
}

function skipUnlessEnabled(t: TestContext): boolean {
  if (ENABLED) return true;
  t.skip("builds the release and a Debian 12 root: run once by .ci/run, or with SOV_PACKAGE_TEST=1");
  return false;
}

/**
 * What an operator does after installing either artifact: a real run of the example config
 * (/etc to the local destination), a restore of it, and `sov install --dry-run` with nothing to do.
 */
function backUpAndRestore(t: TestContext, root: string, sov: string, label: string): void {
  ok(inRoot(root, `${sov} demo --dir /root/demo-${label}`), `${label}: sov demo`);
  assert.ok(readdirSync(join(root, `root/demo-${label}/backups`)).some((f) => f.endsWith(".age")), `${label}: the demo wrote an archive`);

  // The example config names this recipient file; the identity stays "offline" in /root.
  ok(
    inRoot(root, `[ -e /root/identity.txt ] || ${sov} keygen --out /root/identity.txt >/dev/null && sed -n 's/^# public key: //p' /root/identity.txt > /etc/sovereign-backup/age-recipient`),
    `${label}: sov keygen`,
  );
  const before = ageFiles(root);
  ok(inRoot(root, `${sov} run`), `${label}: sov run`);
  assert.equal(ageFiles(root), before + 1, `${label}: sov run wrote one archive to ${ARCHIVES}`);

  const target = `/root/restored-${label}`;
  ok(inRoot(root, `${sov} restore --latest ${target} --identity /root/identity.txt`), `${label}: sov restore --latest`);
  for (const file of ["etc/debian_version", "etc/sovereign-backup/config.yaml"]) {
    assert.deepEqual(readFileSync(join(root, target, file)), readFileSync(join(root, file)), `${label}: /${file} restored byte for byte`);
  }

  // the bundled Node 22 kept the modules it compiled, in root's state directory only (core/cli/src/compile-cache.ts)
  const cache = join(root, "var/lib/sovereign-backup/node-compile-cache");
  assert.equal(statSync(cache).mode & 0o777, 0o700, `${label}: the compile cache is root's alone`);
  const versions = readdirSync(cache).filter((d) => d.startsWith("v22."));
  assert.ok(versions.length > 0 && readdirSync(join(cache, versions[0]!)).length > 100, `${label}: the compile cache holds sov's modules: ${versions.join()}`);

  const dry = ok(inRoot(root, `${sov} install --dry-run`), `${label}: sov install --dry-run`);
  assert.match(dry, /nothing changed/, `${label}: sov install has nothing left to do:\n${dry}`);
  assert.doesNotMatch(dry, /\bwould (create|update|chmod|move|replace)/, dry);
  t.diagnostic(`${label}: demo, run, restore --latest and install --dry-run passed`);
}

test("the .deb and the tarball install into a fresh Debian 12 without node, npm or a compiler, back up, restore and uninstall keeping the archives", async (t) => {
  if (!skipUnlessEnabled(t) || !needRoot(t) || !needTools(t, "debootstrap", "dpkg-deb", "chroot", "mount", "strip", "make", "g++")) return;

  const started = Date.now();
  if (BUILD) ok(runTool(process.execPath, [join(REPO, "scripts/package.mjs")]), "npm run package");
  t.diagnostic(`npm run package: ${((Date.now() - started) / 1000).toFixed(0)} s`);
  const deb = artifact(/^sov_.+_amd64\.deb$/);
  const tarball = artifact(/^sov-.+-linux-x64\.tar\.gz$/);

  const work = mkdtempSync("/var/tmp/sov-package-test-");
  const root = join(work, "root");
  t.after(() => {
    unmountAll(work);
    rmSync(work, { recursive: true, force: true });
  });
  debootstrapRoot(root, work);
  mountSystem(root);
  for (const tool of ["node", "npm", "gcc", "cc"]) assert.notEqual(inRoot(root, `command -v ${tool}`).code, 0, `the fresh root has no ${tool}`);

  // The .deb, with apt resolving its Depends from what minbase has.
  copyFileSync(deb, join(root, "tmp", basename(deb)));
  const installStarted = Date.now();
  ok(inRoot(root, `cd /tmp && apt-get install -y ./${basename(deb)}`), "apt-get install ./sov_*.deb");
  t.diagnostic(`apt-get install of the .deb: ${((Date.now() - installStarted) / 1000).toFixed(1)} s`);
  assert.notEqual(inRoot(root, "command -v node").code, 0, "the package puts no node on PATH");
  assert.match(ok(inRoot(root, "sov --version"), "sov --version"), /^sov \d+\.\d+\.\d+ .*Node v22\.[\d.]+ --single-threaded-gc MALLOC_ARENA_MAX=2\)$/m);
  for (const unit of ["sov-backup.service", "sov-backup.timer", "sov-verify.timer"]) assert.ok(existsSync(join(root, "lib/systemd/system", unit)), unit);
  assert.equal(inRoot(root, "ls /etc/systemd/system/timers.target.wants/sov-* 2>/dev/null").stdout, "", "nothing enabled");
  backUpAndRestore(t, root, "sov", "deb");
  assert.equal(readdirSync(join(root, "usr/local/bin")).length, 0, "no wrappers beside the package's /usr/bin/sov");

  thirdPartyPlugin(root);

  const kept = archives(root);
  ok(inRoot(root, "apt-get remove -y sov"), "apt-get remove sov");
  assert.ok(!existsSync(join(root, "usr/bin/sov")) && !existsSync(join(root, "usr/lib/sov")), "remove takes the program away");
  assert.ok(existsSync(join(root, "etc/sovereign-backup/config.yaml")) && existsSync(join(root, "etc/sovereign-backup/age-recipient")), "remove keeps the configs");
  assert.deepEqual(archives(root), kept, "remove leaves every archive as it was");
  ok(inRoot(root, "apt-get purge -y sov"), "apt-get purge sov");
  assert.ok(!existsSync(join(root, "etc/sovereign-backup")) && !existsSync(join(root, "var/lib/sovereign-backup")), "purge removes configs and state");
  assert.match(inRoot(root, "dpkg -s sov").stderr, /not installed/);
  assert.deepEqual(archives(root), kept, "purge leaves every archive as it was");

  // The tarball, unpacked under /opt and installed with its own `sov install`.
  copyFileSync(tarball, join(root, "tmp", basename(tarball)));
  ok(inRoot(root, `tar -xzf /tmp/${basename(tarball)} -C /opt`), "unpack the tarball");
  const unpacked = `/opt/${basename(tarball, ".tar.gz")}`;
  ok(inRoot(root, `${unpacked}/bin/sov install`), "sov install from the tarball");
  backUpAndRestore(t, root, "/usr/local/bin/sov", "tarball");
  const all = archives(root);
  ok(inRoot(root, `rm -rf ${unpacked} /usr/local/bin/sov /usr/local/bin/sovereign-backup /usr/local/bin/sovereign-restore`), "remove the tarball's tree");
  assert.deepEqual(archives(root), all, "uninstalling the tarball leaves every archive");
  assert.ok(all.size > kept.size, "the tarball's run added to the deb's archives");
});

/**
 * A third-party plugin as the README says to add one to the package: unpacked into the config
 * directory's node_modules (the host has no npm), with @sov/core linked to the packaged one.
 */
function thirdPartyPlugin(root: string): void {
  const name = "sov-plugin-compress-packaged-test";
  const dir = join(root, "etc/sovereign-backup/node_modules", name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "package.json"), JSON.stringify({ name, version: "1.0.0", type: "module", exports: "./index.js", peerDependencies: { "@sov/core": "*" } }));
  writeFileSync(
    join(dir, "index.js"),
    `import { definePlugin } from "@sov/core";
import { createGunzip, createGzip } from "node:zlib";
export default definePlugin({
  name: "${name}", stage: "compress", optionsSchema: { type: "object", additionalProperties: false },
  apply(hooks) { hooks.compress.tapPromise("${name}", async () => ({ extension: "gz", describe: () => ["gzip, third-party"], createCompressStream: () => createGzip() })); },
  decoder: { extension: "gz", createDecodeStream: async () => createGunzip() },
});
`,
  );
  ok(inRoot(root, "mkdir -p /etc/sovereign-backup/node_modules/@sov && ln -s /usr/lib/sov/lib/node_modules/@sov/core /etc/sovereign-backup/node_modules/@sov/core"), "link @sov/core");
  writeFileSync(
    join(root, "etc/sovereign-backup/plugin-test.yaml"),
    `version: 2
source: { plugin: fs, root: /etc, paths: [debian_version] }
compress: { plugin: ${name} }
encrypt: { plugin: age, recipients_file: /etc/sovereign-backup/age-recipient }
destinations:
  - { name: plugin, plugin: local, path: /root/plugin-archives }
`,
  );
  ok(inRoot(root, "sov run --config /etc/sovereign-backup/plugin-test.yaml"), "sov run with the third-party plugin");
  assert.ok(readdirSync(join(root, "root/plugin-archives")).some((f) => f.endsWith(".gz.age")), "the plugin compressed the archive");
  ok(inRoot(root, "sov restore --latest /root/restored-plugin --config /etc/sovereign-backup/plugin-test.yaml --identity /root/identity.txt"), "restore through the plugin's decoder");
  assert.deepEqual(readFileSync(join(root, "root/restored-plugin/debian_version")), readFileSync(join(root, "etc/debian_version")));
}

test("the npm pack tarballs install with npm install -g --offline and run the demo", async (t) => {
  if (!skipUnlessEnabled(t) || !needRoot(t)) return;
  const npm = join(RELEASE, "npm");
  const tarballs = existsSync(npm) ? readdirSync(npm).filter((f) => f.endsWith(".tgz")) : [];
  assert.ok(tarballs.length > 0, `no npm tarballs in ${npm}: the test above runs npm run package first`);
  // As root sov refuses plugin files under a world-writable directory, so not /var/tmp: a
  // root-owned 0755 parent, as /usr/local would be.
  const parent = "/var/lib/sov-test";
  mkdirSync(parent, { recursive: true, mode: 0o755 });
  chmodSync(parent, 0o755);
  const prefix = mkdtempSync(join(parent, "npm-global-"));
  chmodSync(prefix, 0o755);
  t.after(() => rmSync(prefix, { recursive: true, force: true }));
  const files = tarballs.map((f) => join(npm, f));
  ok(runTool("npm", ["install", "-g", "--offline", "--no-audit", "--no-fund", "--prefix", prefix, ...files]), "npm install -g --offline");
  const demo = join(prefix, "demo");
  const out = ok(runTool(join(prefix, "bin/sov"), ["demo", "--dir", demo]), "sov demo");
  assert.ok(readdirSync(join(demo, "backups")).some((f) => f.endsWith(".age")), out);
  const info = JSON.parse(readFileSync(join(prefix, "lib/node_modules", commandPackage(prefix), "build-info.json"), "utf8")) as Record<string, string>;
  assert.deepEqual(Object.keys(info).sort(), ["builtAt", "commit", "version"]);
});

/** The installed package whose bin has `sov` (@sov/core today, @sov/cli after the split). */
function commandPackage(prefix: string): string {
  const scope = join(prefix, "lib/node_modules/@sov");
  for (const name of readdirSync(scope)) {
    const pkg = JSON.parse(readFileSync(join(scope, name, "package.json"), "utf8")) as { bin?: Record<string, string> };
    if (pkg.bin?.sov) return `@sov/${name}`;
  }
  throw new Error(`no package under ${scope} has a sov bin`);
}
