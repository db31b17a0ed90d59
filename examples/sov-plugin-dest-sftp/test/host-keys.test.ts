// known_hosts pinning and the login key: parsing and matching on their own, then against a
// real sshd: an unknown, mismatching or revoked host key is refused with a message that says
// which and what to do; hashed known_hosts (ssh-keygen -H) works; bad key files are config errors.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { test, type TestContext } from "node:test";
import { ConfigError } from "@sov/core";
import { destinationFromPlugin } from "@sov/core/testing";
import plugin, { knownHostsName, matchesHost, parseKnownHosts, pinFor, verifyHostKey } from "../src/index.js";
import { needTools, scratch, SSHD, startSshd, type SshServer } from "./sshd.js";

const ED25519 = "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";
const OTHER = "AAAAC3NzaC1lZDI1NTE5AAAAIJdD7y3aLq454yWBdwLWbIFlmPMzDJZaDcWEb1N1Qi4v";

test("known_hosts lines: plain, [host]:port, wildcards, negation, markers; junk is skipped", () => {
  const entries = parseKnownHosts(
    [
      "# a comment",
      "",
      `backup.example.org,192.0.2.7 ssh-ed25519 ${ED25519} laptop`,
      `[backup.example.org]:2222 ssh-ed25519 ${OTHER}`,
      `*.example.net,!evil.example.net ssh-ed25519 ${ED25519}`,
      `@revoked * ssh-ed25519 ${OTHER}`,
      "garbage line",
      `mislabelled ssh-rsa ${ED25519}`,
    ].join("\n"),
  );
  assert.equal(entries.length, 4, "comments, garbage and a key whose blob is not its stated type are skipped");
  assert.equal(knownHostsName("Backup.Example.org", 22), "backup.example.org");
  assert.equal(knownHostsName("backup.example.org", 2222), "[backup.example.org]:2222");
  assert.ok(matchesHost(entries[0]!.patterns, "192.0.2.7"));
  assert.ok(!matchesHost(entries[0]!.patterns, "[backup.example.org]:2222"), "a port-22 entry does not pin another port");
  assert.ok(matchesHost(entries[1]!.patterns, "[backup.example.org]:2222"));
  assert.ok(matchesHost(entries[2]!.patterns, "db.example.net"));
  assert.ok(!matchesHost(entries[2]!.patterns, "evil.example.net"), "a negated pattern wins");
  const pin = pinFor(entries, "backup.example.org", 2222);
  assert.equal(pin.keys.length, 1);
  assert.equal(pin.revoked.length, 1);
  const other = Buffer.from(OTHER, "base64");
  const verdict = verifyHostKey(pin, other, "/etc/kh");
  assert.equal(verdict.ok, false);
  assert.match(verdict.ok ? "" : verdict.reason, /@revoked/);
  assert.deepEqual(verifyHostKey(pinFor(entries, "backup.example.org", 22), Buffer.from(ED25519, "base64"), "/etc/kh"), { ok: true });
  const third = Buffer.from(ED25519, "base64");
  third.writeUInt8(third.readUInt8(third.length - 1) ^ 1, third.length - 1);
  const mismatch = verifyHostKey(pinFor(entries, "192.0.2.7", 22), third, "/etc/kh");
  assert.match(mismatch.ok ? "" : mismatch.reason, /HOST KEY MISMATCH for 192\.0\.2\.7.*SHA256:/);
  const unknown = verifyHostKey(pinFor(entries, "203.0.113.1", 22), Buffer.from(ED25519, "base64"), "/etc/kh");
  assert.match(unknown.ok ? "" : unknown.reason, /203\.0\.113\.1 is not in \/etc\/kh/);
});

function options(server: SshServer, dir: string, extra: Record<string, unknown> = {}) {
  return {
    host: "127.0.0.1",
    port: server.port,
    user: server.user,
    key_file: server.keyFile,
    known_hosts: server.knownHosts,
    directory: join(server.root, dir),
    ...extra,
  };
}

async function setup(t: TestContext, label: string): Promise<{ dir: string; server: SshServer } | null> {
  if (!needTools(t, SSHD, "ssh-keygen")) return null;
  const dir = scratch(t, label);
  return { dir, server: await startSshd(t, dir) };
}

test("the pinned host key connects, also from a hashed known_hosts (ssh-keygen -H)", async (t) => {
  const env = await setup(t, "pinned");
  if (!env) return;
  const { dir, server } = env;
  const hashed = join(dir, "known_hosts.hashed");
  writeFileSync(hashed, readFileSync(server.knownHosts));
  execFileSync("ssh-keygen", ["-q", "-H", "-f", hashed], { stdio: "ignore" });
  assert.match(readFileSync(hashed, "utf8"), /^\|1\|/, "ssh-keygen hashed the host name");
  for (const knownHosts of [server.knownHosts, hashed]) {
    const d = await destinationFromPlugin(plugin, options(server, "ok", { known_hosts: knownHosts }), { instance: "offsite" });
    await d.open();
    assert.deepEqual(await d.list(), []);
    await d.close();
  }
  assert.equal(readdirSync(join(server.root, "ok")).length, 0);
});

test("a host with no entry in known_hosts is a config error naming the destination (exit 2 in sov run)", async (t) => {
  const env = await setup(t, "unknown");
  if (!env) return;
  const { dir, server } = env;
  const otherPort = join(dir, "kh-other-port");
  writeFileSync(otherPort, `127.0.0.1 ${server.hostKey}\n[127.0.0.1]:${server.port + 1} ${server.hostKey}\n`);
  await assert.rejects(
    destinationFromPlugin(plugin, options(server, "x", { known_hosts: otherPort }), { instance: "offsite" }),
    (err: Error) => {
      assert.ok(err instanceof ConfigError, "a ConfigError: sov exits 2");
      assert.match(err.message, new RegExp(`sov-plugin-dest-sftp: destination offsite: .*has no host key for \\[127\\.0\\.0\\.1\\]:${server.port}`));
      assert.match(err.message, /ssh-keyscan -p/);
      return true;
    },
  );
});

test("a mismatching host key is refused at connect time with both fingerprints; nothing is written", async (t) => {
  const env = await setup(t, "mismatch");
  if (!env) return;
  const { dir, server } = env;
  const wrong = join(dir, "kh-wrong");
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", join(dir, "impostor")]);
  const impostor = readFileSync(join(dir, "impostor.pub"), "utf8").split(" ").slice(0, 2).join(" ");
  writeFileSync(wrong, `[127.0.0.1]:${server.port} ${impostor}\n`);
  const d = await destinationFromPlugin(plugin, options(server, "never", { known_hosts: wrong }), { instance: "offsite" });
  await assert.rejects(d.open(), /HOST KEY MISMATCH for \[127\.0\.0\.1\]:\d+: the server presented ssh-ed25519 SHA256:\S+, .* pins ssh-ed25519 SHA256:/);
  await d.close();
  assert.equal(existsSync(join(server.root, "never")), false, "the remote directory was not even created");
});

test("a host key marked @revoked is refused even when also listed", async (t) => {
  const env = await setup(t, "revoked");
  if (!env) return;
  const { dir, server } = env;
  const revoked = join(dir, "kh-revoked");
  writeFileSync(revoked, `${server.knownHostsLine(server.port)}@revoked * ${server.hostKey}\n`);
  const d = await destinationFromPlugin(plugin, options(server, "never", { known_hosts: revoked }), { instance: "offsite" });
  await assert.rejects(d.open(), /marked @revoked/);
  await d.close();
});

test("a pinned key of another type than the server has is refused, not downgraded", async (t) => {
  const env = await setup(t, "keytype");
  if (!env) return;
  const { dir, server } = env;
  execFileSync("ssh-keygen", ["-q", "-t", "ecdsa", "-N", "", "-f", join(dir, "ecdsa")]);
  const ecdsa = readFileSync(join(dir, "ecdsa.pub"), "utf8").split(" ").slice(0, 2).join(" ");
  const kh = join(dir, "kh-ecdsa");
  writeFileSync(kh, `[127.0.0.1]:${server.port} ${ecdsa}\n`);
  const d = await destinationFromPlugin(plugin, options(server, "never", { known_hosts: kh }), { instance: "offsite" });
  await assert.rejects(d.open(), /offers no host key of the type .*kh-ecdsa pins \(ecdsa-sha2-nistp256\); refusing/);
  await d.close();
});

test("key_file problems are config errors: missing, readable by others, passphrase-protected, a public key", async (t) => {
  const env = await setup(t, "keyfile");
  if (!env) return;
  const { dir, server } = env;
  const loose = join(dir, "loose");
  writeFileSync(loose, readFileSync(server.keyFile));
  chmodSync(loose, 0o644);
  const locked = join(dir, "locked");
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "correct horse", "-f", locked]);
  const pub = join(dir, "pub");
  writeFileSync(pub, readFileSync(`${server.keyFile}.pub`));
  chmodSync(pub, 0o600);
  const cases: Array<[string, RegExp]> = [
    [join(dir, "nope"), /cannot read key_file .*nope \(ENOENT\)/],
    [loose, /readable by group or others .*chmod 600/],
    [locked, /protected by a passphrase/],
    [pub, /not an OpenSSH private key|public key/],
  ];
  for (const [keyFile, message] of cases) {
    await assert.rejects(destinationFromPlugin(plugin, options(server, "x", { key_file: keyFile }), { instance: "offsite" }), (err: Error) => {
      assert.ok(err instanceof ConfigError, `${keyFile}: a ConfigError`);
      assert.match(err.message, /^sov-plugin-dest-sftp: destination offsite: /, "names the plugin and the destination");
      assert.match(err.message, message);
      return true;
    });
  }
});

test("a key the server does not accept fails open() with the login named", async (t) => {
  const env = await setup(t, "auth");
  if (!env) return;
  const { dir, server } = env;
  const stranger = join(dir, "stranger");
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-f", stranger]);
  const d = await destinationFromPlugin(plugin, options(server, "never", { key_file: stranger }), { instance: "offsite" });
  await assert.rejects(d.open(), new RegExp(`cannot connect to 127\\.0\\.0\\.1:${server.port} as ${server.user}: .*authentication`, "i"));
  await d.close();
});

test("bad options are refused by the schema before anything runs", async () => {
  const base = { host: "h", user: "u", key_file: "/k", known_hosts: "/kh", directory: "/p" };
  for (const bad of [{ ...base, port: 0 }, { ...base, port: "22" }, { ...base, extra: 1 }, { ...base, user: "-oProxyCommand=x" }, { host: "h" }]) {
    await assert.rejects(destinationFromPlugin(plugin, bad, { instance: "offsite" }), /sov-plugin-dest-sftp: invalid options/);
  }
});

test("a directory option naming a file fails open() and leaves no connection behind", async (t) => {
  const env = await setup(t, "notdir");
  if (!env) return;
  const { server } = env;
  writeFileSync(join(server.root, "a-file"), "x");
  const d = await destinationFromPlugin(plugin, options(server, "a-file"), { instance: "offsite" });
  await assert.rejects(d.open(), /a-file on 127\.0\.0\.1 is not a directory/);
  // The core closes only destinations whose open() succeeded: the plugin must hang up itself.
  for (let i = 0; i < 50 && server.sessions().length > 0; i++) await new Promise((r) => setTimeout(r, 100));
  assert.deepEqual(server.sessions(), [], "the SSH session ended");
});
