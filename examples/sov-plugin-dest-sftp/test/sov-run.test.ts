// End to end, the way a user runs it: the real `sov` command with a v2 config naming this
// plugin by package name, a local and an SFTP destination, a real sshd on 127.0.0.1. Then a
// restore from the SFTP copy with stock tools only (sftp, age, zstd, tar), retention on the
// server, and a server that drops the connection mid-upload.
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { test, type TestContext } from "node:test";
import { parseArchiveName } from "@sov/core";
import { freePort, needTools, scratch, SSHD, startCuttingProxy, startSshd, type SshServer } from "./sshd.js";

/** The `sov` command of the @sov/core this package is tested against (a devDependency). */
const SOV_BIN = join(dirname(createRequire(import.meta.url).resolve("@sov/cli/package.json")), "bin", "sov.js");
const TOOLS = [SSHD, "ssh-keygen", "sftp", "age", "age-keygen", "zstd", "tar"];

interface Setup {
  dir: string;
  data: string;
  backups: string;
  remote: string;
  identity: string;
  recipients: string;
  configFile: string;
  lockDir: string;
  env: Record<string, string>;
  server: SshServer;
  /** Writes the v2 config; `sftp` overrides the SFTP destination's options. */
  writeConfig(sftp?: Record<string, unknown>, opts?: { days?: number }): void;
  run(): Promise<{ code: number; stdout: string; stderr: string }>;
  localArchives(): string[];
  remoteEntries(): string[];
}

async function setup(t: TestContext, label: string, bigBytes = 2 * 1024 * 1024): Promise<Setup | null> {
  if (!needTools(t, ...TOOLS)) return null;
  const dir = scratch(t, label);
  const server = await startSshd(t, dir);
  const data = join(dir, "data");
  mkdirSync(join(data, "etc", "app"), { recursive: true });
  writeFileSync(join(data, "etc", "app", "app.conf"), "listen = 127.0.0.1\n");
  writeFileSync(join(data, "etc", "app", "secret.key"), "k3y\n", { mode: 0o600 });
  chmodSync(join(data, "etc", "app", "secret.key"), 0o600);
  writeFileSync(join(data, "big.bin"), randomBytes(bigBytes));
  writeFileSync(join(data, "empty"), "");
  mkdirSync(join(data, "empty-dir"));
  const identity = join(dir, "identity.txt");
  execFileSync("age-keygen", ["-o", identity], { stdio: "ignore" });
  const recipients = join(dir, "recipients.txt");
  writeFileSync(recipients, execFileSync("age-keygen", ["-y", identity]));
  const etc = join(dir, "etc");
  mkdirSync(etc);
  const configFile = join(etc, "config.yaml");
  const backups = join(dir, "backups");
  const remote = join(server.root, "offsite", "archives");
  const lockDir = join(dir, "lock");
  const env = { SOVEREIGN_BACKUP_CONFIG_DIR: etc, SOVEREIGN_BACKUP_LOCKDIR: lockDir, SOVEREIGN_BACKUP_LOG: join(dir, "sov.log") };
  const s: Setup = {
    dir, data, backups, remote, identity, recipients, configFile, lockDir, env, server,
    writeConfig(sftp = {}, opts = {}) {
      const o = { host: "127.0.0.1", port: server.port, user: server.user, key_file: server.keyFile, known_hosts: server.knownHosts, directory: remote, ...sftp };
      writeFileSync(
        configFile,
        `version: 2
host: sftptest
source:
  plugin: fs
  paths: [${data}]
compress:
  plugin: zstd
encrypt:
  plugin: age
  recipients_file: ${recipients}
destinations:
  - name: local
    plugin: local
    path: ${backups}
  - name: offsite
    plugin: sov-plugin-dest-sftp
${Object.entries(o).map(([k, v]) => `    ${k}: ${JSON.stringify(v)}`).join("\n")}
    retention:
      days: ${opts.days ?? 0}
`,
      );
    },
    run: () => runSov(["run"], env),
    localArchives: () => (existsSync(backups) ? readdirSync(backups).filter((n) => parseArchiveName(n)).sort() : []),
    remoteEntries: () => (existsSync(remote) ? readdirSync(remote).sort() : []),
  };
  s.writeConfig();
  return s;
}

function runSov(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [SOV_BIN, ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (s: string) => (stdout += s));
    child.stderr.setEncoding("utf8").on("data", (s: string) => (stderr += s));
    const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
    child.once("error", reject);
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

const sha256 = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");

/** Relative path -> `kind mode sha256` for every entry below `root`. */
function snapshot(root: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string) => {
    for (const name of readdirSync(join(root, rel))) {
      const path = join(root, rel, name);
      const st = lstatSync(path);
      const key = join(rel, name);
      if (st.isDirectory()) {
        out[key] = `dir ${(st.mode & 0o7777).toString(8)}`;
        walk(key);
      } else {
        out[key] = `file ${(st.mode & 0o7777).toString(8)} ${sha256(path)}`;
      }
    }
  };
  walk("");
  return out;
}

test("sov run writes the same archive to local and SFTP; verify --storage checks the SFTP copy; restores from it (stock sftp | age | zstd | tar, and sov restore) give the tree back", async (t) => {
  const s = await setup(t, "e2e");
  if (!s) return;
  const res = await s.run();
  assert.equal(res.code, 0, res.stderr + res.stdout);
  const [local, ...moreLocal] = s.localArchives();
  assert.ok(local && moreLocal.length === 0, `one local archive: ${s.localArchives().join()}`);
  assert.match(local, /^sovereign-backup-sftptest-\d{8}-\d{6}\.tar\.zst\.age$/);
  assert.deepEqual(s.remoteEntries(), [local, `${local}.sha256`], "the SFTP copy under the same name and its checksum, no temporary file left");
  assert.equal(sha256(join(s.remote, local)), sha256(join(s.backups, local)), "one encrypted stream, byte-identical copies");
  assert.equal(readFileSync(join(s.remote, `${local}.sha256`), "utf8"), `${sha256(join(s.backups, local))}  ${local}\n`, "sha256sum -c format");
  assert.equal(lstatSync(join(s.remote, local)).mode & 0o777, 0o600, "the uploaded archive is 0600");
  assert.equal(lstatSync(s.remote).mode & 0o777, 0o700, "the remote directory was created 0700");
  assert.match(res.stdout, new RegExp(`offsite: sftp://${s.server.user}@127\\.0\\.0\\.1:${s.server.port}${s.remote}/${local.replace(/\./g, "\\.")}`));

  // The restore a person does on a fresh machine: fetch with OpenSSH's sftp, decrypt with age.
  mkdirSync(join(s.dir, "fetched"));
  const fetched = join(s.dir, "fetched", local);
  execFileSync(
    "sftp",
    ["-b", "-", "-i", s.server.keyFile, "-o", `UserKnownHostsFile=${s.server.knownHosts}`, "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", "-P", String(s.server.port), `${s.server.user}@127.0.0.1`],
    { input: `get ${join(s.remote, local)} ${fetched}\n`, stdio: ["pipe", "ignore", "pipe"] },
  );
  const out = join(s.dir, "restored");
  mkdirSync(out);
  execFileSync("bash", ["-o", "pipefail", "-c", `age -d -i ${s.identity} ${fetched} | zstd -d | tar -x --same-permissions -C ${out}`]);
  assert.deepEqual(snapshot(join(out, s.data.slice(1))), snapshot(s.data), "the restored tree matches the source");

  // `sov verify --storage` reads the SFTP copy back through the plugin and checks its .sha256.
  const verified = await runSov(["verify", "--storage"], s.env);
  assert.equal(verified.code, 0, verified.stderr + verified.stdout);
  assert.match(verified.stdout, new RegExp(`offsite: ${local.replace(/\./g, "\\.")}: ok`));
  const copy = join(s.remote, local);
  const original = readFileSync(copy);
  const flipped = Buffer.from(original);
  flipped.writeUInt8(flipped.readUInt8(flipped.length >> 1) ^ 0xff, flipped.length >> 1);
  writeFileSync(copy, flipped);
  const damaged = await runSov(["verify", "--storage"], s.env);
  assert.equal(damaged.code, 1, "a damaged off-site copy is caught");
  assert.match(damaged.stderr, /offsite: .*CHECKSUM MISMATCH/);
  writeFileSync(copy, original);

  // And sov's own restore of the fetched copy.
  const target = join(s.dir, "sov-restored");
  const restored = await runSov(["restore", fetched, target, "--identity", s.identity], s.env);
  assert.equal(restored.code, 0, restored.stderr + restored.stdout);
  assert.deepEqual(snapshot(join(target, s.data.slice(1))), snapshot(s.data), "sov restore of the SFTP copy matches the source");

  // sov restore straight from the SFTP destination, with no local copy left: list, --latest, by name.
  for (const name of readdirSync(s.backups)) rmSync(join(s.backups, name));
  const listed = await runSov(["restore", "--list"], s.env);
  assert.equal(listed.code, 0, listed.stderr + listed.stdout);
  assert.match(listed.stdout, new RegExp(`offsite\\s+sftp://.*/${local.replace(/\./g, "\\.")}`), "the SFTP copy is listed");
  for (const [how, args] of [["--latest", ["--latest"]], ["by name", [local]]] as const) {
    const into = join(s.dir, `from-sftp-${how.replace(/\W/g, "")}`);
    const res = await runSov(["restore", ...args, into, "--identity", s.identity], s.env);
    assert.equal(res.code, 0, `${how}: ${res.stderr}${res.stdout}`);
    assert.deepEqual(snapshot(join(into, s.data.slice(1))), snapshot(s.data), `sov restore ${how} from SFTP alone matches the source`);
  }
  assert.deepEqual(readdirSync(s.backups), [], "restore made no local copy");
});

test("retention on the SFTP destination prunes this host's old archives there, nothing else", async (t) => {
  const s = await setup(t, "retention", 64 * 1024);
  if (!s) return;
  mkdirSync(s.remote, { recursive: true, mode: 0o700 });
  const old = "sovereign-backup-sftptest-20200101-000000.tar.zst.age";
  const foreign = "sovereign-backup-otherhost-20200101-000000.tar.zst.age";
  for (const name of [old, foreign, "README.txt"]) writeFileSync(join(s.remote, name), "x");
  s.writeConfig({}, { days: 7 });
  const res = await s.run();
  assert.equal(res.code, 0, res.stderr + res.stdout);
  const left = s.remoteEntries();
  assert.ok(!left.includes(old), `the old archive was pruned: ${left.join()}`);
  assert.ok(left.includes(foreign) && left.includes("README.txt"), "another host's archive and other files stay");
  assert.equal(left.filter((n) => parseArchiveName(n)?.host === "sftptest").length, 1, "the new archive stays");
  assert.match(res.stdout, new RegExp(`pruned sftp://.*${old.replace(/\./g, "\\.")}`));
});

test("a server that drops the connection mid-upload: no archive under a final name there, the local copy commits (exit 1); the next run cleans up", async (t) => {
  const s = await setup(t, "drop", 8 * 1024 * 1024);
  if (!s) return;
  const proxy = await startCuttingProxy(t, s.server.port, 1536 * 1024);
  const knownHosts = join(s.dir, "known_hosts.proxy");
  writeFileSync(knownHosts, s.server.knownHostsLine(proxy.port));
  s.writeConfig({ port: proxy.port, known_hosts: knownHosts });
  const res = await s.run();
  assert.ok(proxy.cut(), "the proxy cut the connection");
  assert.equal(res.code, 1, res.stderr + res.stdout);
  assert.match(res.stderr, /offsite/);
  assert.match(res.stdout, /summary: FAILED/);
  assert.match(res.stdout, /offsite: FAILED/);
  const local = s.localArchives();
  assert.equal(local.length, 1, "the local archive committed");
  const remote = s.remoteEntries();
  assert.deepEqual(remote.filter((n) => parseArchiveName(n)), [], `no archive under a final name on the server: ${remote.join()}`);
  assert.ok(remote.every((n) => n.endsWith(".tmp")), `only the broken upload's temporary file may remain: ${remote.join()}`);
  assert.equal(existsSync(s.lockDir), false, "the lock was released");

  // The server is back: the next run uploads and removes the interrupted upload's leftover.
  s.writeConfig();
  const again = await s.run();
  assert.equal(again.code, 0, again.stderr + again.stdout);
  const after = s.remoteEntries();
  assert.equal(after.length, 2, `one archive and its checksum, no leftovers: ${after.join()}`);
  assert.ok(parseArchiveName(after[0]!));
  assert.equal(after[1], `${after[0]}.sha256`);
  if (remote.length > 0) assert.match(again.stderr, /removed .*\.tmp, left by an interrupted run/);
});

test("an unreachable SFTP server fails only that destination: the local copy commits, nothing is pruned, exit 1", async (t) => {
  const s = await setup(t, "unreachable", 64 * 1024);
  if (!s) return;
  const port = await freePort();
  const knownHosts = join(s.dir, "known_hosts.closed");
  writeFileSync(knownHosts, s.server.knownHostsLine(port));
  mkdirSync(s.backups, { mode: 0o700 });
  const old = "sovereign-backup-sftptest-20200101-000000.tar.zst.age";
  writeFileSync(join(s.backups, old), "x");
  s.writeConfig({ port, known_hosts: knownHosts, timeout: 5 });
  const res = await s.run();
  assert.equal(res.code, 1, res.stderr + res.stdout);
  assert.match(res.stderr, new RegExp(`destination offsite: cannot connect to 127\\.0\\.0\\.1:${port}`));
  assert.equal(s.localArchives().length, 2, "the new local archive committed, the old one was not pruned");
  assert.ok(s.localArchives().includes(old));
});

test("an unknown host key stops sov run with exit 2 before anything is read, locked or written", async (t) => {
  const s = await setup(t, "unknown-host", 64 * 1024);
  if (!s) return;
  const empty = join(s.dir, "known_hosts.empty");
  writeFileSync(empty, "# nothing pinned yet\n");
  s.writeConfig({ known_hosts: empty });
  const res = await s.run();
  assert.equal(res.code, 2, res.stderr + res.stdout);
  assert.match(res.stderr, /sov-plugin-dest-sftp: destination offsite: .*known_hosts\.empty has no host key for \[127\.0\.0\.1\]:\d+/);
  assert.deepEqual(s.localArchives(), []);
  assert.deepEqual(s.remoteEntries(), []);
  assert.equal(existsSync(s.lockDir), false, "no lock was taken");
});

test("a mismatching host key at run time fails the SFTP destination with the fingerprints; local still commits", async (t) => {
  const s = await setup(t, "mismatch-run", 64 * 1024);
  if (!s) return;
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(s.dir, "impostor")]);
  const impostor = readFileSync(join(s.dir, "impostor.pub"), "utf8").split(" ").slice(0, 2).join(" ");
  const wrong = join(s.dir, "known_hosts.wrong");
  writeFileSync(wrong, `[127.0.0.1]:${s.server.port} ${impostor}\n`);
  s.writeConfig({ known_hosts: wrong });
  const res = await s.run();
  assert.equal(res.code, 1, res.stderr + res.stdout);
  assert.match(res.stderr, /HOST KEY MISMATCH for \[127\.0\.0\.1\]:\d+/);
  assert.equal(s.localArchives().length, 1);
  assert.deepEqual(s.remoteEntries(), []);
});
