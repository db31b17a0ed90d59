import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { test } from "node:test";
import { needRoot, needTools, REPO, sh, sovSpawn } from "../helpers.js";
import { makeFixture, type Fixture } from "./fixture.js";

const parsePrometheus = createRequire(import.meta.url)("parse-prometheus-text-format") as (text: string) => Array<{
  name: string;
  type: string;
  metrics: Array<{ value: string; labels?: Record<string, string> }>;
}>;

function compat(bin: "sovereign-backup" | "sovereign-restore", args: string[], env: Record<string, string>) {
  const res = spawnSync(process.execPath, [join(REPO, "core/cli/bin", `${bin}.js`), ...args], { env: { ...process.env, ...env }, encoding: "utf8", input: "" });
  return { code: res.status ?? -1, stdout: res.stdout, stderr: res.stderr };
}

function json(fx: Fixture, args: string[], env: Record<string, string> = {}) {
  const res = fx.run(args, env);
  return { ...res, report: JSON.parse(res.stdout) as Record<string, unknown> & { destinations: Array<Record<string, unknown>> } };
}

test("sovereign-backup and sovereign-restore keep the bash tool's flags and exit codes", (t) => {
  if (!needTools(t, "age", "age-keygen", "zstd", "tar")) return;
  const fx = makeFixture(t, "compat");
  const env = { ...fx.env, SOVEREIGN_BACKUP_IDENTITY: fx.identity };
  assert.match(compat("sovereign-backup", ["--version"], env).stdout, /^sovereign-backup \d+\.\d+\.\d+/);
  assert.equal(compat("sovereign-backup", ["--help"], env).code, 0);
  assert.equal(compat("sovereign-backup", ["--bogus"], env).code, 2);
  assert.equal(compat("sovereign-backup", ["--target", "usb"], env).code, 2, "usb is not configured");
  const list = compat("sovereign-backup", ["--list"], env);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /host: testhost/);
  const dry = compat("sovereign-backup", ["--dry-run", "--verbose", "--config", fx.configFile], env);
  assert.equal(dry.code, 0, dry.stderr);
  assert.equal(fx.archives().length, 0);
  const run = compat("sovereign-backup", ["--target", "local", "--once"], env);
  assert.equal(run.code, 0, run.stderr);
  mkdirSync(fx.lockDir, { recursive: true });
  const start = readFileSync("/proc/1/stat", "utf8").split(") ")[1]!.split(" ")[19];
  writeFileSync(join(fx.lockDir, "pid"), `1 ${start}\n`);
  assert.equal(compat("sovereign-backup", [], env).code, 10, "a held lock is exit 10");

  const [archive] = fx.archives();
  const restoreList = compat("sovereign-restore", ["--list"], env);
  assert.equal(restoreList.code, 0, restoreList.stderr);
  assert.ok(restoreList.stdout.includes(archive!));
  assert.equal(compat("sovereign-restore", ["--verify", join(fx.backups, archive!)], env).code, 0);
  const target = join(fx.dir, "restored");
  const restored = compat("sovereign-restore", ["--latest", target], env);
  assert.equal(restored.code, 0, restored.stderr);
  assert.ok(existsSync(join(target, fx.data.slice(1), "etc/app.conf")));
  assert.equal(compat("sovereign-restore", ["--verify"], env).code, 2, "--verify needs a file");
  assert.match(compat("sovereign-restore", ["--version"], env).stdout, /^sovereign-restore /);
});

test("--json ends a run with one object: a success and a failure", (t) => {
  if (!needTools(t, "age-keygen")) return;
  const fx = makeFixture(t, "json");
  const ok = json(fx, ["run", "--json"]);
  assert.equal(ok.code, 0, ok.stderr);
  const r = ok.report;
  assert.equal(r.status, "ok");
  assert.equal(r.exitCode, 0);
  assert.equal(r.host, "testhost");
  for (const key of ["startedAt", "finishedAt"]) assert.ok(!Number.isNaN(Date.parse(r[key] as string)), key);
  assert.ok((r.filesRead as number) > 5 && (r.bytesRead as number) > 3_000_000);
  assert.equal(r.destinations.length, 1);
  assert.deepEqual(Object.keys(r.destinations[0]!).sort(), ["archive", "bytes", "committed", "error", "name"]);
  assert.equal(r.destinations[0]!.committed, true);
  assert.equal(r.destinations[0]!.archive, join(fx.backups, fx.archives()[0]!));
  assert.ok(Array.isArray(r.warnings) && Array.isArray(r.pruned));
  assert.equal(r.error, null);
  assert.doesNotMatch(ok.stdout.trim().slice(1, -1), /^\{/m, "stdout is one object, logs went to stderr");

  // A destination that cannot be created: a file stands where its directory should be.
  writeFileSync(join(fx.dir, "blocked"), "");
  writeFileSync(fx.configFile, readFileSync(fx.configFile, "utf8").replace(`local: ${fx.backups}`, `local: ${join(fx.dir, "blocked", "backups")}`));
  const bad = json(fx, ["run", "--json"]);
  assert.equal(bad.code, 1);
  assert.equal(bad.report.status, "failed");
  assert.equal(bad.report.exitCode, 1);
  assert.equal(bad.report.destinations[0]!.committed, false);
  assert.match(bad.report.destinations[0]!.error as string, /ENOTDIR|not a directory/);

  writeFileSync(fx.configFile, "sources: [unclosed\n");
  const refused = json(fx, ["run", "--json"]);
  assert.equal(refused.code, 2);
  assert.equal(refused.report.exitCode, 2);
  assert.match(refused.report.error as string, /not valid YAML/);
});

test("sov status: 3 before any run, 0 when fresh, 3 when stale, 1 after a failed run", (t) => {
  if (!needTools(t, "age-keygen")) return;
  const fx = makeFixture(t, "status");
  const env = { SOVEREIGN_BACKUP_STATE_DIR: join(fx.dir, "state") };
  assert.equal(fx.run(["status"], env).code, 3);
  assert.equal(fx.run(["run"], env).code, 0);
  const fresh = fx.run(["status"], env);
  assert.equal(fresh.code, 0, fresh.stdout + fresh.stderr);
  assert.match(fresh.stdout, /local: \/\S*\/sovereign-backup-testhost-\S*\.age \(0\.0 h old\)/);
  assert.match(fresh.stdout, /^OK$/m);
  const stale = fx.run(["status", "--max-age", "0.00001"], env);
  assert.equal(stale.code, 3);
  assert.match(stale.stdout, /newest archive is .* h old \(limit/);
  const statusJson = JSON.parse(fx.run(["status", "--json"], env).stdout) as { exitCode: number; destinations: unknown[] };
  assert.equal(statusJson.exitCode, 0);
  const pre = join(fx.dir, "fail.sh");
  writeFileSync(pre, "#!/bin/sh\nexit 1\n", { mode: 0o755 });
  writeFileSync(join(fx.dir, "blocked"), "");
  writeFileSync(fx.configFile, readFileSync(fx.configFile, "utf8").replace(`local: ${fx.backups}`, `local: ${join(fx.dir, "blocked", "b")}`));
  assert.equal(fx.run(["run"], env).code, 1);
  const failed = fx.run(["status"], env);
  assert.equal(failed.code, 1);
  assert.match(failed.stdout, /last run failed \(exit 1\)/);
});

test("sov list shows every configured destination, a v0.1 config's stick too, and marks which ones sov run writes", (t) => {
  if (!needTools(t, "age-keygen")) return;
  const fx = makeFixture(t, "list-all");
  const v01 = readFileSync(fx.configFile, "utf8").replace(`  local: ${fx.backups}\n`, `  local: ${fx.backups}\n  usb_label: SOVLIST${process.pid}\n  usb_subdir: sov\n`);
  writeFileSync(fx.configFile, v01);
  const res = fx.run(["list"]);
  assert.equal(res.code, 0, res.stderr);
  assert.match(res.stdout, /^ {2}local \(@sov\/dest-local\), retention .*, written by sov run:$/m);
  assert.match(res.stdout, /^ {2}usb \(@sov\/dest-usb\), retention .*, only with --target usb:$/m);
  assert.match(res.stdout, new RegExp(`SOVLIST${process.pid}`), "the stick's own lines are shown");
  // --target narrows the list as it narrows a run; the legacy flag shows the same
  assert.doesNotMatch(fx.run(["list", "--target", "local"]).stdout, /^ {2}usb /m);
  assert.match(compat("sovereign-backup", ["--list"], fx.env).stdout, /only with --target usb/);

  fx.writeV2Config(`destinations:\n  - { name: near, plugin: local, path: ${fx.backups} }\n  - { name: far, plugin: local, path: ${fx.backups}-far }\n`);
  const v2 = fx.run(["list"]);
  assert.equal(v2.code, 0, v2.stderr);
  assert.equal(v2.stdout.match(/, written by sov run:$/gm)?.length, 2, v2.stdout);
  assert.deepEqual(fx.files(), [], "listing wrote nothing");
});

test("metrics_textfile is valid Prometheus text format, written atomically", (t) => {
  if (!needTools(t, "age-keygen")) return;
  const fx = makeFixture(t, "metrics");
  const prom = join(fx.dir, "textfile", "sov.prom");
  mkdirSync(join(fx.dir, "textfile"));
  fx.writeConfig({ extra: `metrics_textfile: ${prom}` });
  assert.equal(fx.run(["run"], { SOVEREIGN_BACKUP_STATE_DIR: join(fx.dir, "state") }).code, 0);
  const families = parsePrometheus(readFileSync(prom, "utf8"));
  const byName = Object.fromEntries(families.map((f) => [f.name, f]));
  for (const name of [
    "sov_last_run_timestamp_seconds",
    "sov_last_success_timestamp_seconds",
    "sov_last_run_exit_code",
    "sov_last_run_duration_seconds",
    "sov_last_run_files_read",
    "sov_last_run_bytes_read",
    "sov_last_run_bytes_written",
    "sov_last_run_destination_ok",
    "sov_archives",
  ]) {
    assert.ok(byName[name], `${name} is present`);
    assert.equal(byName[name]!.type, "GAUGE");
  }
  assert.equal(byName.sov_last_run_exit_code!.metrics[0]!.value, "0");
  assert.deepEqual(byName.sov_archives!.metrics[0]!.labels, { host: "testhost", destination: "local" });
  assert.equal(byName.sov_archives!.metrics[0]!.value, "1");
  assert.ok(Math.abs(Number(byName.sov_last_success_timestamp_seconds!.metrics[0]!.value) - Date.now() / 1000) < 120);
  assert.deepEqual(execFileSync("ls", [join(fx.dir, "textfile")], { encoding: "utf8" }).trim(), "sov.prom", "no temporary file left");
});

test("metrics_textfile in a directory another user owns: symlinks planted at the temporary and final names are not written through", async (t) => {
  if (!needTools(t, "age-keygen") || !needRoot(t)) return;
  const fx = makeFixture(t, "metrics-symlink");
  // node_exporter's textfile directory belongs to the exporter's user, who can plant links in it
  const textfile = join(fx.dir, "textfile");
  mkdirSync(textfile, { mode: 0o755 });
  chownSync(textfile, 65534, 65534);
  const victim = join(fx.dir, "victim");
  writeFileSync(victim, "root's precious file\n", { mode: 0o600 });
  const prom = join(textfile, "sov.prom");
  symlinkSync(victim, prom);
  fx.writeConfig({ extra: `metrics_textfile: ${prom}` });
  const child = sovSpawn(["run"], { ...fx.env, SOVEREIGN_BACKUP_STATE_DIR: join(fx.dir, "state") }, { stdio: ["ignore", "ignore", "pipe"] });
  // the attacker sees the pid and plants the old temporary name before the run ends
  symlinkSync(victim, join(textfile, `sov.prom.${child.pid}.tmp`));
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr += d));
  const code = await new Promise<number | null>((resolve) => child.on("exit", resolve));
  assert.equal(code, 0, stderr);
  assert.equal(readFileSync(victim, "utf8"), "root's precious file\n", "the victim is untouched");
  assert.ok(lstatSync(prom).isFile(), "sov.prom is now sov's own regular file, not the link");
  assert.match(readFileSync(prom, "utf8"), /^sov_last_run_exit_code\{host="testhost"\} 0$/m);
  assert.deepEqual(readdirSync(textfile).sort(), ["sov.prom", `sov.prom.${child.pid}.tmp`], "only the planted link is left beside it");
});

test("progress on a terminal (script -q): files, bytes, throughput, elapsed; --quiet silences it", (t) => {
  if (!needTools(t, "script", "age-keygen")) return;
  const fx = makeFixture(t, "progress");
  execFileSync("sh", ["-c", `head -c 300M /dev/urandom > ${join(fx.data, "big", "huge.bin")}`]);
  const envs = Object.entries(fx.env).map(([k, v]) => `${k}=${v}`).join(" ");
  const cmd = (extra: string) => `env ${envs} ${process.execPath} ${join(REPO, "core/cli/bin/sov.js")} run ${extra}`;
  const out = execFileSync("script", ["-q", "-e", "-c", cmd(""), "/dev/null"], { encoding: "utf8", maxBuffer: 1 << 26 });
  assert.match(out, /\r\x1b\[K\d+ files, [\d.]+ (B|KiB|MiB|GiB) read, [\d.]+ (B|KiB|MiB|GiB)\/s, \d+:\d\d elapsed/);
  const quiet = execFileSync("script", ["-q", "-e", "-c", cmd("--quiet --once"), "/dev/null"], { encoding: "utf8", maxBuffer: 1 << 26 });
  assert.doesNotMatch(quiet, /elapsed/);
  // The second run knows the first one's size, so it can estimate what remains.
  const again = execFileSync("script", ["-q", "-e", "-c", cmd("--once"), "/dev/null"], { encoding: "utf8", maxBuffer: 1 << 26, env: { ...process.env, SOVEREIGN_BACKUP_STATE_DIR: join(fx.dir, "state") } });
  assert.match(again, /elapsed/);
});

test("under systemd (JOURNAL_STREAM) lines carry syslog priorities; failure_hook gets the facts", (t) => {
  if (!needTools(t, "age-keygen")) return;
  const fx = makeFixture(t, "journal");
  const hook = join(fx.dir, "hooks", "failure.sh");
  mkdirSync(join(fx.dir, "hooks"));
  writeFileSync(hook, `#!/bin/sh\nprintf '%s|%s|%s' "$SOV_STATUS" "$SOV_HOST" "$SOV_ERROR" > ${join(fx.dir, "failure.out")}\n`);
  chmodSync(hook, 0o755);
  writeFileSync(join(fx.dir, "blocked"), "");
  fx.writeConfig({ extra: `failure_hook: ${hook}\nunknown_key: 1` });
  writeFileSync(fx.configFile, readFileSync(fx.configFile, "utf8").replace(`local: ${fx.backups}`, `local: ${join(fx.dir, "blocked", "b")}`));
  const res = fx.run(["run"], { JOURNAL_STREAM: "8:12345" });
  assert.equal(res.code, 1);
  assert.match(res.stdout, /^<6>\[INFO\] /m);
  assert.match(res.stderr, /^<4>\[WARN\] .*unknown key 'unknown_key'/m);
  assert.match(res.stderr, /^<3>\[ERROR\] /m);
  const [status, host, error] = readFileSync(join(fx.dir, "failure.out"), "utf8").split("|");
  assert.equal(status, "failed");
  assert.equal(host, "testhost");
  assert.ok(error!.length > 0);
  assert.doesNotMatch(sh(`cat ${join(fx.dir, "sov.log")}`), /AGE-SECRET-KEY/);
});
