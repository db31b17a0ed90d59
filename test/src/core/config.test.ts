import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { ConfigError, loadConfig, parseConfigText, silentLogger } from "@sov/core";
import { scratch, sov } from "../helpers.js";

const V01 = `# sovereign-backup v0.1 config, as the bash tool read it
host: sparki
sources:
  - /data/config
  - data/repos
exclusions:
  - "*/node_modules"
  - "*.pyc"
destinations:
  local: /data/backups   # a trailing comment
  usb_label: SOVBACKUP
  usb_subdir: sovereign-backup
retention:
  local_days: 14
  usb_days: "90"
age_recipient: /etc/sovereign-backup/age-recipient.txt
compressor: auto
pre_hook: "/usr/local/sbin/dump-db # not a comment"
post_hook: ""
schedule:
  time: "02:00"
`;

test("a v0.1 config maps onto the plugin chain", () => {
  const c = parseConfigText("/etc/sovereign-backup/sparki.yaml", V01, silentLogger());
  assert.equal(c.format, "v0.1");
  assert.equal(c.host, "sparki");
  assert.deepEqual(c.source, { ...c.source, plugin: "fs", options: { paths: ["/data/config", "data/repos"], exclude: ["*/node_modules", "*.pyc"] } });
  assert.equal(c.compress?.plugin, "zstd");
  assert.deepEqual(c.encrypt.options, { recipients_file: "/etc/sovereign-backup/age-recipient.txt" });
  assert.deepEqual(
    c.destinations.map((d) => [d.name, d.plugin, d.options, d.retention.days]),
    [
      ["local", "local", { path: "/data/backups" }, 14],
      ["usb", "usb", { label: "SOVBACKUP", subdir: "sovereign-backup" }, 90],
    ],
  );
  assert.equal(c.hooks.pre, "/usr/local/sbin/dump-db # not a comment", "a quoted value keeps its #");
  assert.equal(c.hooks.post, null);
  assert.deepEqual(c.schedule, { time: "02:00" });
});

test("v0.1 defaults are the bash tool's: /data/backups, 14 and 90 days, --target local", () => {
  const c = parseConfigText("/x/h.yaml", "sources: [/etc]\nage_recipient: /r\ndestinations:\n  usb_label: STICK\n", silentLogger());
  assert.deepEqual(c.destinations.map((d) => [d.name, d.options, d.retention.days]), [
    ["local", { path: "/data/backups" }, 14],
    ["usb", { label: "STICK" }, 90],
  ]);
  assert.deepEqual(c.defaultTargets, ["local"]);
  assert.equal(c.hooks.onPreFailure, "continue", "the bash tool warned and went on when pre_hook failed");
});

test("CRLF line ends and unknown keys are tolerated; unknown keys are warned with their line", () => {
  const log = silentLogger();
  const text = (V01 + "colour: blue\n").replace("destinations:\n", "destinations:\n  nfs: /mnt/x\n").replace(/\n/g, "\r\n");
  const c = parseConfigText("/x/h.yaml", text, log);
  assert.equal(c.destinations.length, 2);
  assert.ok(log.warnings.some((w) => /\/x\/h\.yaml:\d+: unknown key 'colour' ignored/.test(w)), log.warnings.join("\n"));
  assert.ok(log.warnings.some((w) => w.includes("unknown key 'destinations.nfs' ignored")));
});

test("nothing in a config is evaluated or expanded", () => {
  const c = parseConfigText("/x/h.yaml", V01.replace("host: sparki", "host: sparki\nexclusions_extra: $(rm -rf /)").replace("/data/config", "$HOME/`id`"), silentLogger());
  assert.deepEqual(c.source.options.paths, ["$HOME/`id`", "data/repos"]);
  assert.throws(() => parseConfigText("/x/h.yaml", "a: &x [1]\nb: *x\n", silentLogger()), ConfigError);
  assert.throws(() => parseConfigText("/x/h.yaml", "sources: !!js/function 'x'\n", silentLogger()), ConfigError);
});

test("a YAML tag beyond the core schema is refused with its line, also on a key v0.1 ignores", () => {
  const cases: Array<[string, number, string]> = [
    [V01.replace("host: sparki", "host: !custom sparki"), 2, "!custom"],
    [`${V01}colour: !!python/object/apply:os.system ["id"]\n`, V01.split("\n").length, "tag:yaml.org,2002:python/object/apply:os.system"],
    [V01.replace("host: sparki", "host: !!binary c3Bhcmtp"), 2, "tag:yaml.org,2002:binary"],
    [`${V01}extra: !!set {a}\n`, V01.split("\n").length, "tag:yaml.org,2002:set"],
  ];
  for (const [text, line, tag] of cases) {
    assert.throws(() => parseConfigText("/x/h.yaml", text, silentLogger()), (err: Error) => {
      assert.ok(err instanceof ConfigError, err.message);
      assert.equal(err.message, `/x/h.yaml:${line}: YAML tag ${tag} is not allowed: sov configs use plain values only (remove the tag)`);
      return true;
    });
  }
  // the core schema's own tags stay plain YAML
  assert.equal(parseConfigText("/x/h.yaml", V01.replace("host: sparki", "host: !!str sparki"), silentLogger()).host, "sparki");
});

test("sov list exits 2 on a tagged config and names the line", async (t) => {
  const dir = scratch(t, "tag");
  const file = join(dir, "h.yaml");
  writeFileSync(file, V01.replace("host: sparki", "host: !custom sparki"));
  const res = sov(["list", "--config", file], { SOVEREIGN_BACKUP_LOG: "" });
  assert.equal(res.code, 2, res.stderr);
  assert.match(res.stderr, new RegExp(`${file}:2: YAML tag !custom is not allowed`));
  assert.equal(res.stdout, "", "nothing of the config is shown");
});

test("compressor names map like the bash tool's", () => {
  for (const [name, plugin] of [["auto", "zstd"], ["zstd", "zstd"], ["lz4", "lz4"], ["gzip", "gzip"], ["pigz", "gzip"], ["none", null]] as const) {
    const c = parseConfigText("/x/h.yaml", V01.replace("compressor: auto", `compressor: ${name}`), silentLogger());
    assert.equal(c.compress?.plugin ?? null, plugin, name);
  }
});

test("config errors name the file, the line and the key", () => {
  const cases: Array<[string, RegExp]> = [
    [V01.replace("local_days: 14", "local_days: fourteen"), /^\/x\/h\.yaml:14: retention\.local_days: must be integer/],
    [V01.replace("compressor: auto", "compressor: brotli"), /^\/x\/h\.yaml:17: compressor: must be one of auto, zstd/],
    [V01.replace("host: sparki", "host: ../../etc"), /^\/x\/h\.yaml:2: host: has characters that are not allowed/],
    [V01.replace(/^age_recipient:.*\n/m, ""), /^\/x\/h\.yaml:\d+: missing required key 'age_recipient'/],
    ["sources: [a\n", /^\/x\/h\.yaml:\d+: not valid YAML/],
    ["version: 2\nsource: {paths: [etc]}\nencrypt: {recipients_file: /r}\ndestinations: []\n", /^\/x\/h\.yaml:4: destinations: must NOT have fewer than 1 items/],
    ["version: 2\nsource: {paths: [etc]}\nencrypt: {recipients_file: /r}\ndestinations: [{plugin: local, path: /b}]\nretention: 3\n", /^\/x\/h\.yaml:5: retention: unknown key/],
  ];
  for (const [text, re] of cases) {
    assert.throws(() => parseConfigText("/x/h.yaml", text, silentLogger()), (err: Error) => {
      assert.ok(err instanceof ConfigError, err.message);
      assert.match(err.message, re);
      return true;
    });
  }
});

test("the v2 format declares the chain, one options block per plugin", () => {
  const c = parseConfigText(
    "/etc/sovereign-backup/web1.yaml",
    `version: 2
host: web1
source: { plugin: fs, paths: [/etc, /srv], exclude: ["*.tmp"] }
compress: { plugin: lz4 }
encrypt: { plugin: age, recipients_file: /etc/sovereign-backup/recipients.txt }
hooks: { pre: /usr/local/sbin/pre }
destinations:
  - { plugin: local, path: /data/backups, retention: { days: 7 } }
  - { name: offsite, plugin: "@acme/sov-dest-s3", bucket: b }
`,
    silentLogger(),
  );
  assert.equal(c.format, "v2");
  assert.equal(c.compress?.plugin, "lz4");
  assert.deepEqual(c.destinations.map((d) => [d.name, d.plugin, d.options, d.retention.days]), [
    ["local", "local", { path: "/data/backups" }, 7],
    ["offsite", "@acme/sov-dest-s3", { bucket: "b" }, 0],
  ]);
  assert.deepEqual(c.hooks, { pre: "/usr/local/sbin/pre", post: null, failure: null, onPreFailure: "abort" });
  assert.deepEqual(c.defaultTargets, ["local", "offsite"]);
  assert.equal(c.destinations[1]!.locate(["bucket"]).join("."), "destinations.1.bucket");
});

test("discovery: --config, else <dir>/<hostname -s>.yaml, else <dir>/config.yaml", async (t) => {
  const dir = scratch(t, "discovery");
  const env = { SOVEREIGN_BACKUP_CONFIG_DIR: dir };
  await assert.rejects(loadConfig({ env, log: silentLogger() }), /no config found: looked for .*config\.yaml/);
  writeFileSync(join(dir, "config.yaml"), V01.replace("host: sparki", "host: fromconfig"));
  assert.equal((await loadConfig({ env, log: silentLogger() })).host, "fromconfig");
  const { hostname } = await import("node:os");
  writeFileSync(join(dir, `${hostname().split(".")[0]}.yaml`), V01.replace("host: sparki", "host: fromhost"));
  assert.equal((await loadConfig({ env, log: silentLogger() })).host, "fromhost");
  writeFileSync(join(dir, "other.yaml"), V01.replace("host: sparki", "host: explicit"));
  assert.equal((await loadConfig({ configPath: join(dir, "other.yaml"), env, log: silentLogger() })).host, "explicit");
  await assert.rejects(loadConfig({ configPath: join(dir, "missing.yaml"), env, log: silentLogger() }), ConfigError);
  writeFileSync(join(dir, "evil.js"), "process.exit(99)");
  await assert.rejects(loadConfig({ configPath: join(dir, "evil.js"), env, log: silentLogger() }), /reads YAML configs only/);
});

test("a meta config in the current directory is never read (cosmiconfig would run it)", async (t) => {
  const dir = scratch(t, "metaconfig");
  const { mkdirSync } = await import("node:fs");
  mkdirSync(join(dir, ".config"));
  writeFileSync(join(dir, ".config/config.js"), "globalThis.__sovMetaRan = true; export default {};");
  writeFileSync(join(dir, "config.yaml"), V01);
  const previous = process.cwd();
  process.chdir(dir);
  try {
    await loadConfig({ configPath: join(dir, "config.yaml"), log: silentLogger() });
  } finally {
    process.chdir(previous);
  }
  assert.equal((globalThis as Record<string, unknown>).__sovMetaRan, undefined);
});

test("finding and loading a config never changes the process's working directory", async (t) => {
  const dir = scratch(t, "nochdir");
  writeFileSync(join(dir, "config.yaml"), V01);
  const chdir = process.chdir;
  const calls: string[] = [];
  process.chdir = (to: string) => void calls.push(to);
  try {
    await loadConfig({ env: { SOVEREIGN_BACKUP_CONFIG_DIR: dir }, log: silentLogger() });
    await loadConfig({ configPath: join(dir, "config.yaml"), log: silentLogger() });
  } finally {
    process.chdir = chdir;
  }
  assert.deepEqual(calls, []);
});
