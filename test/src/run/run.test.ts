import assert from "node:assert/strict";
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { needTools, sh } from "../helpers.js";
import { snapshotTree } from "../tree.js";
import { makeFixture, type Fixture } from "./fixture.js";

const ARCHIVE_RE = /^sovereign-backup-testhost-\d{8}-\d{6}\.tar\.(zst|lz4|gz)\.age$|^sovereign-backup-testhost-\d{8}-\d{6}\.tar\.age$/;

function expectedTree(fx: Fixture) {
  const tree = snapshotTree(fx.data);
  for (const key of Object.keys(tree)) if (key.startsWith("app/node_modules") || key === "app/cache.pyc") delete tree[key];
  return tree;
}

/** Restores with stock tools only: age, the compressor's CLI, GNU tar. */
function stockRestore(fx: Fixture, archive: string, decompress: string | null): string {
  const out = join(fx.dir, `restored-${Math.random().toString(36).slice(2)}`);
  mkdirSync(out);
  const middle = decompress ? ` | ${decompress}` : "";
  sh(`age -d -i ${fx.identity} ${join(fx.backups, archive)}${middle} | tar -x --same-permissions --numeric-owner -C ${out}`);
  return join(out, fx.data.slice(1));
}

for (const [compressor, ext, decompress] of [
  ["auto", "zst", "zstd -d"],
  ["lz4", "lz4", "lz4 -d"],
  ["gzip", "gz", "gzip -d"],
  ["none", null, null],
] as const) {
  test(`sov run (compressor: ${compressor}) restores with stock age | ${decompress ?? "-"} | tar to an identical tree`, (t) => {
    if (!needTools(t, "age", "age-keygen", "tar", ...(decompress ? [decompress.split(" ")[0]!] : []))) return;
    const fx = makeFixture(t, `roundtrip-${compressor}`);
    fx.writeConfig({ compressor });
    const res = fx.run();
    assert.equal(res.code, 0, res.stderr + res.stdout);
    const archives = fx.archives();
    assert.equal(archives.length, 1, archives.join());
    assert.match(archives[0]!, ARCHIVE_RE);
    assert.ok(archives[0]!.endsWith(ext ? `.tar.${ext}.age` : ".tar.age"));
    assert.equal(statSync(join(fx.backups, archives[0]!)).mode & 0o777, 0o600);
    assert.equal(statSync(fx.backups).mode & 0o777, 0o700);
    const listing = sh(`age -d -i ${fx.identity} ${join(fx.backups, archives[0]!)}${decompress ? ` | ${decompress}` : ""} | tar -t`);
    assert.ok(!listing.split("\n").some((l) => l.startsWith("/")), "entries are relative to /");
    assert.deepEqual(snapshotTree(stockRestore(fx, archives[0]!, decompress)), expectedTree(fx));
    assert.match(res.stdout, /summary: ok/);
  });
}

/** Asserts a refused run: exit 2, nothing written, no lock taken, the pre_hook never ran. */
function assertRefused(fx: Fixture, res: { code: number; stderr: string }, message: RegExp) {
  assert.equal(res.code, 2, res.stderr);
  assert.match(res.stderr, message);
  assert.deepEqual(fx.archives(), [], "nothing written");
  assert.equal(existsSync(fx.lockDir), false, "no lock taken");
  assert.equal(existsSync(join(fx.dir, "pre-hook-ran")), false, "pre_hook did not run");
}

test("every config error exits 2 before anything is read or written", async (t) => {
  if (!needTools(t, "age-keygen")) return;
  const fx = makeFixture(t, "exit2");
  const hook = join(fx.dir, "hooks", "pre.sh");
  mkdirSync(join(fx.dir, "hooks"));
  writeFileSync(hook, `#!/bin/sh\ntouch ${join(fx.dir, "pre-hook-ran")}\n`, { mode: 0o755 });
  const cases: Array<[string, () => void, RegExp]> = [
    ["malformed YAML", () => writeFileSync(fx.configFile, "sources: [unclosed\n"), /config\.yaml:\d+: not valid YAML/],
    ["wrong type", () => fx.writeConfig({ extra: `pre_hook: ${hook}\nretention: {local_days: many}` }), /config\.yaml:\d+: /],
    ["relative hook", () => fx.writeConfig({ extra: "pre_hook: hooks/pre.sh" }), /pre_hook: hooks\/pre\.sh is not an absolute path/],
    ["hook with ..", () => fx.writeConfig({ extra: `pre_hook: ${fx.dir}/hooks/../hooks/pre.sh` }), /contains '\.\.'/],
    ["symlinked hook", () => { symlinkSync(hook, join(fx.dir, "hooks", "link.sh")); fx.writeConfig({ extra: `pre_hook: ${join(fx.dir, "hooks", "link.sh")}` }); }, /is a symlink/],
    ["missing hook", () => fx.writeConfig({ extra: `post_hook: ${join(fx.dir, "hooks", "nope.sh")}` }), /post_hook: .* does not exist/],
    ["invalid recipient", () => { writeFileSync(fx.recipientsFile, "age1notarecipient\n"); fx.writeConfig({ extra: `pre_hook: ${hook}` }); }, /recipients\.txt.*line 1|line 1.*recipients\.txt/],
    ["private key as recipient", () => { writeFileSync(fx.recipientsFile, "AGE-SECRET-KEY-1QQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQQ\n"); fx.writeConfig({ extra: `pre_hook: ${hook}` }); }, /private identity/],
    ["missing recipients file", () => { rmSync(fx.recipientsFile); fx.writeConfig({ extra: `pre_hook: ${hook}` }); }, /recipients\.txt/],
    ["unknown --target", () => fx.writeConfig({ extra: `pre_hook: ${hook}` }), /--target usb: no such destination/],
  ];
  for (const [name, arrange, message] of cases) {
    arrange();
    const res = fx.run(name === "unknown --target" ? ["run", "--target", "usb"] : ["run"]);
    await t.test(name, () => assertRefused(fx, res, message));
    if (name.includes("recipient")) writeFileSync(fx.recipientsFile, `${fx.recipient}\n`);
  }
  assert.doesNotMatch(readFileSync(join(fx.dir, "sov.log"), "utf8"), /AGE-SECRET-KEY-1Q/, "the private key never reaches the log");
});

test("as root, a hook that another user owns or can write is refused with exit 2", async (t) => {
  if (process.getuid?.() !== 0) return t.skip("needs root");
  const fx = makeFixture(t, "hookowner");
  const hook = join(fx.dir, "pre.sh");
  writeFileSync(hook, `#!/bin/sh\ntouch ${join(fx.dir, "pre-hook-ran")}\n`, { mode: 0o777 });
  chmodSync(hook, 0o777);
  fx.writeConfig({ extra: `pre_hook: ${hook}` });
  assertRefused(fx, fx.run(), /writable by group or others/);
  chmodSync(hook, 0o755);
  const { chownSync } = await import("node:fs");
  chownSync(hook, 65534, 65534);
  assertRefused(fx, fx.run(), /owned by uid 65534/);
});

test("pre_hook runs before the source is read; post_hook after the commit, with the archive path", (t) => {
  if (!needTools(t, "age", "age-keygen", "zstd", "tar")) return;
  const fx = makeFixture(t, "hooks");
  mkdirSync(join(fx.dir, "hooks"));
  const pre = join(fx.dir, "hooks", "pre.sh");
  const post = join(fx.dir, "hooks", "post.sh");
  writeFileSync(pre, `#!/bin/sh\necho dumped > ${join(fx.data, "etc", "db-dump.sql")}\n`, { mode: 0o755 });
  writeFileSync(post, `#!/bin/sh\nprintf '%s|%s' "$SOV_STATUS" "$SOV_ARCHIVES" > ${join(fx.dir, "post.out")}\n`, { mode: 0o755 });
  fx.writeConfig({ extra: `pre_hook: ${pre}\npost_hook: ${post}` });
  const res = fx.run();
  assert.equal(res.code, 0, res.stderr);
  const [archive] = fx.archives();
  assert.equal(readFileSync(join(fx.dir, "post.out"), "utf8"), `ok|${join(fx.backups, archive!)}`);
  const listing = sh(`age -d -i ${fx.identity} ${join(fx.backups, archive!)} | zstd -d | tar -t`);
  assert.ok(listing.includes("etc/db-dump.sql"), "the pre_hook's dump is in the archive");
});

test("a failing pre_hook: v0.1 warns and goes on like the bash tool; v2 fails the run (exit 1), writes and prunes nothing", (t) => {
  if (!needTools(t, "age-keygen", "age")) return;
  const fx = makeFixture(t, "prefail");
  const pre = join(fx.dir, "pre.sh");
  writeFileSync(pre, "#!/bin/sh\necho dump failed >&2\nexit 3\n", { mode: 0o755 });
  fx.writeConfig({ extra: `pre_hook: ${pre}` });
  const v01 = fx.run();
  assert.equal(v01.code, 0, v01.stderr);
  assert.match(v01.stderr, /pre_hook .* exited 3; going on/);
  assert.equal(fx.archives().length, 1);

  const old = "sovereign-backup-testhost-20200101-000000.tar.zst.age";
  rmSync(fx.backups, { recursive: true });
  mkdirSync(fx.backups, { mode: 0o700 });
  writeFileSync(join(fx.backups, old), "old");
  fx.writeV2Config(`hooks: { pre: ${pre} }
destinations:
  - { name: local, plugin: local, path: ${fx.backups}, retention: { days: 1 } }
`);
  const v2 = fx.run();
  assert.equal(v2.code, 1, v2.stderr);
  assert.match(v2.stderr, /pre_hook .* exited 3; nothing was read or written/);
  assert.deepEqual(fx.archives(), [old]);
});

test("--dry-run prints the plan and writes nothing", (t) => {
  if (!needTools(t, "age-keygen")) return;
  const fx = makeFixture(t, "dryrun");
  const res = fx.run(["run", "--dry-run"]);
  assert.equal(res.code, 0, res.stderr);
  assert.match(res.stdout, /archive: sovereign-backup-testhost-\d{8}-\d{6}\.tar\.zst\.age/);
  assert.match(res.stdout, /dry run: nothing was locked, read or written/);
  assert.equal(existsSync(fx.backups), false);
  assert.equal(existsSync(fx.lockDir), false);
});

test("a held lock exits 10; a stale one is broken; --once skips it", (t) => {
  if (!needTools(t, "age-keygen", "age")) return;
  const fx = makeFixture(t, "lock");
  mkdirSync(fx.lockDir, { recursive: true });
  const start = readFileSync("/proc/1/stat", "utf8").split(") ")[1]!.split(" ")[19];
  writeFileSync(join(fx.lockDir, "pid"), `1 ${start}\n`);
  const held = fx.run();
  assert.equal(held.code, 10, held.stderr);
  assert.match(held.stderr, /another run \(pid 1\) holds/);
  assert.deepEqual(fx.archives(), []);
  const once = fx.run(["run", "--once"]);
  assert.equal(once.code, 0, once.stderr);
  assert.equal(fx.archives().length, 1);
  writeFileSync(join(fx.lockDir, "pid"), "999999999 1\n");
  const stale = fx.run();
  assert.equal(stale.code, 0, stale.stderr);
  assert.match(stale.stderr, /breaking stale lock/);
  assert.equal(existsSync(fx.lockDir), false, "the lock is released after the run");
});

test("prune removes this host's old archives after a good run and keeps the newest", (t) => {
  if (!needTools(t, "age-keygen", "age")) return;
  const fx = makeFixture(t, "prune");
  mkdirSync(fx.backups, { mode: 0o700 });
  const old = ["sovereign-backup-testhost-20200101-000000.tar.zst.age", "sovereign-backup-testhost-20200102-000000.tar.lz4.age"];
  const foreign = "sovereign-backup-otherhost-20200101-000000.tar.zst.age";
  for (const name of [...old, foreign, "README.txt"]) writeFileSync(join(fx.backups, name), "x");
  fx.writeConfig({ localDays: 7 });
  const res = fx.run();
  assert.equal(res.code, 0, res.stderr);
  const left = fx.files();
  assert.ok(old.every((o) => !left.includes(o)), left.join());
  assert.ok(left.includes(foreign) && left.includes("README.txt"));
  assert.equal(left.filter((n) => n.startsWith("sovereign-backup-testhost-") && n.endsWith(".age")).length, 1);
  assert.ok(left.includes(`${left.find((n) => n.startsWith("sovereign-backup-testhost-") && n.endsWith(".age"))}.sha256`), "the new archive has its checksum");
  assert.match(res.stdout, /pruned .*20200101-000000/);
});

test("missing sources are warned and skipped; no valid source fails the run (exit 1) and writes nothing", (t) => {
  if (!needTools(t, "age-keygen", "age")) return;
  const fx = makeFixture(t, "sources");
  symlinkSync(fx.data, join(fx.dir, "data-link"));
  fx.writeConfig({ sources: [join(fx.dir, "nope"), join(fx.dir, "data-link"), fx.data] });
  const ok = fx.run();
  assert.equal(ok.code, 0, ok.stderr);
  assert.match(ok.stderr, /nope.*(skipped|does not exist)|(skipped|does not exist).*nope/);
  assert.match(ok.stderr, /data-link.*symlink|symlink.*data-link/);
  rmSync(fx.backups, { recursive: true });
  fx.writeConfig({ sources: [join(fx.dir, "nope")] });
  const bad = fx.run();
  assert.equal(bad.code, 1, bad.stderr);
  assert.match(bad.stderr, /no valid source/);
  assert.deepEqual(fx.archives(), []);
});
