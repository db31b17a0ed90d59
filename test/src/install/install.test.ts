import { sovNodeFlags } from "@sov/cli";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { ConfigError } from "@sov/core";
import { needTools, REPO, scratch, sov } from "../helpers.js";
import { addSystemUnits, captureLog, EXAMPLE_CONFIG, install, installCommand, snapshot, UNIT_NAMES } from "./fixture.js";

const mode = (path: string) => statSync(path).mode & 0o7777;
const unit = (prefix: string, name: string) => readFileSync(join(prefix, "etc/systemd/system", name), "utf8");

function localConfig(dest: string, extra = ""): string {
  return `sources:\n  - /etc\ndestinations:\n  local: ${dest}\nage_recipient: /etc/sovereign-backup/age-recipient\n${extra}`;
}

test("install into an empty prefix, then again: the second run changes no file and says so", async (t) => {
  const prefix = scratch(t, "install-twice");
  const first = captureLog();
  const report = await install({ prefix, log: first.log });
  assert.ok(report.changes.length > 0);
  for (const name of UNIT_NAMES) assert.ok(existsSync(join(prefix, "etc/systemd/system", name)), `${name} written`);
  assert.equal(readFileSync(join(prefix, "etc/sovereign-backup/config.yaml"), "utf8"), EXAMPLE_CONFIG);
  for (const dir of ["run/sovereign-backup", "var/lib/sovereign-backup", "mnt/sov-backup", "var/backups/sovereign-backup"]) {
    assert.ok(statSync(join(prefix, dir)).isDirectory(), `${dir} created`);
  }
  assert.ok(existsSync(join(prefix, "var/log/sovereign-backup.log")));

  const before = snapshot(prefix);
  const second = captureLog();
  const again = await install({ prefix, log: second.log });
  assert.deepEqual(again.changes, []);
  assert.deepEqual(snapshot(prefix), before, "no file was rewritten, touched or re-moded");
  assert.ok(second.lines.some((l) => /nothing changed/.test(l)), second.lines.join("\n"));
  assert.ok(!second.lines.some((l) => /^(create|update|chmod|would) /.test(l)), second.lines.join("\n"));
});

test("--dry-run prints each action and leaves the prefix empty", async (t) => {
  const prefix = scratch(t, "install-dry");
  const { log, lines } = captureLog();
  const report = await install({ prefix, dryRun: true, log });
  assert.deepEqual(readdirSync(prefix), []);
  assert.ok(report.changes.length >= UNIT_NAMES.length + 3);
  assert.ok(lines.some((l) => l === `would create ${join(prefix, "etc/systemd/system/sov-backup.timer")} (0644)`), lines.join("\n"));
  assert.ok(lines.some((l) => l === `would create ${join(prefix, "etc/sovereign-backup")}/ (0750)`), lines.join("\n"));
  // through the CLI entry too, with the exit code
  assert.equal(await installCommand(["--prefix", prefix, "--dry-run"], {}, captureLog().log), 0);
  assert.deepEqual(readdirSync(prefix), []);
});

test("an edited config is kept byte for byte; the example goes beside it as config.yaml.new", async (t) => {
  const prefix = scratch(t, "install-edited");
  await install({ prefix, log: captureLog().log });
  const configPath = join(prefix, "etc/sovereign-backup/config.yaml");
  const edited = localConfig("/srv/archives", "# my own comment\nschedule:\n  time: \"03:30\"\n");
  writeFileSync(configPath, edited);
  chmodSync(configPath, 0o600);

  const { log, lines } = captureLog();
  const report = await install({ prefix, log });
  assert.equal(readFileSync(configPath, "utf8"), edited, "the operator's config is untouched");
  assert.equal(mode(configPath), 0o600, "nor its mode");
  assert.equal(readFileSync(`${configPath}.new`, "utf8"), EXAMPLE_CONFIG);
  assert.equal(mode(`${configPath}.new`), 0o640);
  assert.ok(report.changes.some((c) => c.action === "write-new" && c.path === `${configPath}.new`));
  assert.ok(lines.some((l) => l.includes("is kept as it is")), lines.join("\n"));
  // the units follow the edited config: its destination and its schedule
  assert.match(unit(prefix, "sov-backup.service"), /^ReadWritePaths=\/srv\/archives$/m);
  assert.match(unit(prefix, "sov-backup.timer"), /^OnCalendar=\*-\*-\* 03:30:00$/m);
  assert.equal(mode(join(prefix, "srv/archives")), 0o700);

  const before = snapshot(prefix);
  assert.deepEqual((await install({ prefix, log: captureLog().log })).changes, []);
  assert.deepEqual(snapshot(prefix), before);
});

test("modes: config directory 0750 (fixed when looser), wrappers 0755, units 0644; the wrapper runs sov", async (t) => {
  const prefix = scratch(t, "install-modes");
  mkdirSync(join(prefix, "etc/sovereign-backup"), { recursive: true });
  chmodSync(join(prefix, "etc/sovereign-backup"), 0o755);
  const { log, lines } = captureLog();
  await install({ prefix, log });
  assert.equal(mode(join(prefix, "etc/sovereign-backup")), 0o750);
  assert.ok(lines.some((l) => l.startsWith(`chmod ${join(prefix, "etc/sovereign-backup")}/ 0755 -> 0750`)), lines.join("\n"));
  assert.equal(mode(join(prefix, "etc/sovereign-backup/config.yaml")), 0o640);
  assert.equal(mode(join(prefix, "run/sovereign-backup")), 0o750);
  assert.equal(mode(join(prefix, "var/lib/sovereign-backup")), 0o750);
  assert.equal(mode(join(prefix, "var/log/sovereign-backup.log")), 0o640);
  for (const name of UNIT_NAMES) assert.equal(mode(join(prefix, "etc/systemd/system", name)), 0o644, name);
  for (const name of ["sov", "sovereign-backup", "sovereign-restore"]) {
    const wrapper = join(prefix, "usr/local/bin", name);
    if (!existsSync(join(REPO, "core/cli/bin", `${name}.js`))) continue;
    assert.equal(mode(wrapper), 0o755, name);
    assert.equal(statSync(wrapper).uid, process.getuid!(), `${name} is owned by whoever ran install (root on a real system)`);
  }
  const res = spawnSync(join(prefix, "usr/local/bin/sov"), ["--version"], { encoding: "utf8", env: { PATH: "/usr/bin:/bin" } });
  assert.equal(res.status, 0, res.stderr);
  assert.match(res.stdout, /^sov \d+\.\d+\.\d+/);
  const flags = [...sovNodeFlags(), "MALLOC_ARENA_MAX=2"];
  assert.ok(res.stdout.trimEnd().endsWith(`${process.version}${flags.map((f) => ` ${f}`).join("")})`), `the wrapper starts node with ${flags.join(" ")}: ${res.stdout}`);
  const own = spawnSync(join(prefix, "usr/local/bin/sov"), ["--version"], { encoding: "utf8", env: { PATH: "/usr/bin:/bin", MALLOC_ARENA_MAX: "4" } });
  assert.match(own.stdout, / MALLOC_ARENA_MAX=4\)$/m, "a value the caller set is kept");
});

test("the bash tool's sovereign-backup script is moved aside, an npm symlink is replaced, never written through", async (t) => {
  const prefix = scratch(t, "install-legacy");
  const bin = join(prefix, "usr/local/bin");
  mkdirSync(bin, { recursive: true });
  const bashScript = "#!/usr/bin/env bash\n# sovereign-backup v0.1\necho old\n";
  writeFileSync(join(bin, "sovereign-backup"), bashScript, { mode: 0o755 });
  const linkTarget = join(prefix, "npm-sov.js");
  writeFileSync(linkTarget, "// npm's file\n");
  symlinkSync(linkTarget, join(bin, "sov"));
  mkdirSync(join(prefix, "etc/systemd/system"), { recursive: true });
  writeFileSync(join(prefix, "etc/systemd/system/sovereign-backup.timer"), "[Timer]\nOnCalendar=daily\n");

  const { log, lines } = captureLog();
  await install({ prefix, log });
  assert.equal(readFileSync(linkTarget, "utf8"), "// npm's file\n", "the symlink's target is untouched");
  assert.ok(statSync(join(bin, "sov")).isFile());
  assert.match(readFileSync(join(bin, "sov"), "utf8"), /installed by `sov install`/);
  if (existsSync(join(REPO, "core/cli/bin/sovereign-backup.js"))) {
    assert.equal(readFileSync(join(bin, "sovereign-backup.pre-sov"), "utf8"), bashScript);
    assert.match(readFileSync(join(bin, "sovereign-backup"), "utf8"), /sovereign-backup\.js/);
  }
  assert.ok(lines.some((l) => l.startsWith("warn:") && l.includes("sovereign-backup.timer")), "the old timer is pointed out");
  assert.deepEqual((await install({ prefix, log: captureLog().log })).changes, [], "and the second run is quiet");
});

test("a config value that would add a line to a root unit is refused (exit 2) before anything is written", async (t) => {
  const prefix = scratch(t, "install-inject");
  const config = join(prefix, "etc/sovereign-backup/config.yaml");
  mkdirSync(join(prefix, "etc/sovereign-backup"), { recursive: true });
  const attacks = [
    localConfig("/srv/a", 'schedule:\n  on_calendar: "daily\\nExecStartPre=/bin/sh -c id"\n'),
    localConfig('"/srv/a\\nExecStartPre=/bin/sh"'),
    localConfig("/srv/a", "schedule:\n  randomized_delay: \"30min\\n[Service]\"\n"),
  ];
  for (const text of attacks) {
    writeFileSync(config, text);
    await assert.rejects(install({ prefix, log: captureLog().log }), (err: Error) => err instanceof ConfigError && err.exitCode === 2, text);
    const { log, lines } = captureLog();
    assert.equal(await installCommand(["--prefix", prefix], {}, log), 2);
    assert.ok(lines.some((l) => l.startsWith("error:")), lines.join("\n"));
    assert.deepEqual(readdirSync(prefix).sort(), ["etc"]);
    assert.deepEqual(readdirSync(join(prefix, "etc")), ["sovereign-backup"]);
  }
});

test("--config: read under the prefix, passed to every service, and its .new goes beside it", async (t) => {
  const prefix = scratch(t, "install-config");
  mkdirSync(join(prefix, "srv/sov"), { recursive: true });
  writeFileSync(join(prefix, "srv/sov/host.yaml"), localConfig("/srv/backups"));
  await install({ prefix, configPath: "/srv/sov/host.yaml", log: captureLog().log });
  for (const name of ["sov-backup.service", "sov-backup-usb.service", "sov-verify.service"]) {
    assert.match(unit(prefix, name), /^ExecStart=\/usr\/local\/bin\/sov (run|verify) --config \/srv\/sov\/host\.yaml /m, name);
  }
  assert.equal(readFileSync(join(prefix, "srv/sov/host.yaml.new"), "utf8"), EXAMPLE_CONFIG);
  assert.equal(existsSync(join(prefix, "etc/sovereign-backup/config.yaml")), false, "no second config that sov could pick up");
  await assert.rejects(install({ prefix, configPath: "/srv/sov/missing.yaml", log: captureLog().log }), ConfigError);
});

test("sov install: bad arguments exit 2, --help exits 0", async () => {
  assert.equal(await installCommand(["--bogus"], {}, captureLog().log), 2);
  assert.equal(await installCommand(["extra"], {}, captureLog().log), 2);
  assert.equal(await installCommand(["--help"], {}, captureLog().log), 0);
});

test("systemd-analyze verify accepts the generated units (example, local+usb, usb only, awkward paths)", async (t) => {
  if (!needTools(t, "systemd-analyze")) return;
  const configs: Record<string, string | null> = {
    example: null,
    "local and usb, bash-tool schedule keys": [
      "sources: [/etc, /home]",
      "destinations:",
      "  local: /srv/backups",
      "  usb_label: SOVBACKUP",
      "age_recipient: /etc/sovereign-backup/age-recipient",
      "schedule:",
      '  local_calendar: "Mon..Fri *-*-* 01:15:00"',
      "  local_random_delay: 10min",
      "",
    ].join("\n"),
    "v2, usb only": [
      "version: 2",
      "source: { plugin: fs, paths: [/etc] }",
      "encrypt: { plugin: age, recipients_file: /etc/sovereign-backup/age-recipient }",
      "destinations:",
      "  - { plugin: usb, name: stick, label: SOVBACKUP }",
      "schedule:",
      '  on_calendar: ["*-*-* 02:00:00", "*-*-* 14:00:00"]',
      "  verify_calendar: monthly",
      "",
    ].join("\n"),
    "v2, a path with blanks, % and quotes": [
      "version: 2",
      "source: { plugin: fs, paths: [/etc] }",
      "encrypt: { plugin: age, recipients_file: /etc/sovereign-backup/age-recipient }",
      "destinations:",
      "  - { plugin: local, name: nas, path: '/srv/My Backups 100% \"x\"' }",
      "",
    ].join("\n"),
  };
  for (const [label, text] of Object.entries(configs)) {
    const prefix = scratch(t, `verify-${label}`);
    if (text !== null) {
      mkdirSync(join(prefix, "etc/sovereign-backup"), { recursive: true });
      writeFileSync(join(prefix, "etc/sovereign-backup/config.yaml"), text);
    }
    await install({ prefix, log: captureLog().log });
    addSystemUnits(prefix);
    const res = spawnSync("systemd-analyze", ["verify", `--root=${prefix}`, ...UNIT_NAMES], { encoding: "utf8", cwd: prefix });
    const ours = `${res.stdout}${res.stderr}`.split("\n").filter((l) => l.includes("sov-"));
    assert.equal(res.status, 0, `${label}: ${res.stderr}`);
    assert.deepEqual(ours, [], `${label}: systemd-analyze complained`);
  }
});

test("the CLI routes `sov install` to installCommand", (t) => {
  const prefix = scratch(t, "install-cli");
  const res = sov(["install", "--prefix", prefix, "--dry-run"], { SOVEREIGN_BACKUP_LOG: join(scratch(t, "install-cli-log"), "sov.log") });
  assert.doesNotMatch(res.stderr, /unknown command 'install'/, "cli.ts must wire: case \"install\": return installCommand(...)");
  assert.equal(res.code, 0, res.stderr);
  assert.match(res.stdout, /would create .*sov-backup\.service/);
  assert.deepEqual(readdirSync(prefix), []);
});

test("install --prefix through the CLI logs to the terminal, never to this host's /var/log/sovereign-backup.log", async (t) => {
  const prefix = scratch(t, "install-nolog");
  const realLog = "/var/log/sovereign-backup.log";
  const env = { ...process.env };
  delete env.SOVEREIGN_BACKUP_LOG;
  const res = spawnSync(process.execPath, [join(REPO, "core/cli/bin/sov.js"), "install", "--prefix", prefix], { encoding: "utf8", env });
  assert.equal(res.status, 0, res.stderr);
  assert.match(res.stdout, new RegExp(`create ${prefix}/etc/systemd/system/sov-backup.timer`), "the actions are shown on the terminal");
  // other runs on this machine may write the real log: only this install's lines must be absent
  const written = existsSync(realLog) ? readFileSync(realLog, "utf8") : "";
  assert.ok(!written.includes(prefix), `${realLog} got lines about ${prefix}`);
  assert.equal(readFileSync(join(prefix, "var/log/sovereign-backup.log"), "utf8"), "", "the staged log file is created empty");
});

test("installed by a package: its commands and units are checked, not rewritten; a config needing other units gets /etc overrides", async (t) => {
  const prefix = scratch(t, "install-packaged");
  const layout = { binDir: "/usr/bin", unitDir: "/lib/systemd/system" };
  // What the .deb build does: generate under a prefix, then ship the units from the package's unit directory.
  await install({ prefix, log: captureLog().log, layout });
  assert.ok(!existsSync(join(prefix, "usr/local/bin")), "no wrappers of its own beside the package's commands");
  assert.match(unit(prefix, "sov-backup.service"), /^ExecStart=\/usr\/bin\/sov run /m);
  mkdirSync(join(prefix, "lib/systemd"), { recursive: true });
  renameSync(join(prefix, "etc/systemd/system"), join(prefix, "lib/systemd/system"));
  mkdirSync(join(prefix, "etc/systemd/system"));
  mkdirSync(join(prefix, "usr/bin"), { recursive: true });
  for (const name of ["sov", "sovereign-backup", "sovereign-restore"]) writeFileSync(join(prefix, "usr/bin", name), "#!/bin/sh\n", { mode: 0o755 });

  const before = snapshot(prefix);
  const { log, lines } = captureLog();
  assert.deepEqual((await install({ prefix, dryRun: true, log, layout })).changes, [], lines.join("\n"));
  assert.ok(lines.some((l) => /nothing changed/.test(l)), lines.join("\n"));

  // A config with another destination directory needs another sandbox: written where systemd prefers it.
  writeFileSync(join(prefix, "etc/sovereign-backup/config.yaml"), localConfig("/srv/archives"));
  const edited = await install({ prefix, log: captureLog().log, layout });
  assert.ok(edited.changes.some((c) => c.path === join(prefix, "etc/systemd/system/sov-backup.service")));
  assert.match(unit(prefix, "sov-backup.service"), /^ReadWritePaths=\/srv\/archives$/m);
  for (const name of UNIT_NAMES) assert.deepEqual(snapshot(join(prefix, "lib/systemd/system")).get(name), before.get(`lib/systemd/system/${name}`), `${name}: the package's file is untouched`);

  rmSync(join(prefix, "usr/bin/sovereign-restore"));
  const missing = captureLog();
  await install({ prefix, dryRun: true, log: missing.log, layout });
  assert.ok(missing.log.warnings.some((w) => w.includes("usr/bin/sovereign-restore is missing") && w.includes("reinstall")), missing.lines.join("\n"));
});
