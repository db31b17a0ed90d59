// Test fixtures for this package: a throwaway OpenSSH server on 127.0.0.1, a TCP proxy that can
// cut a connection, and the tool checks. Self-contained on purpose: an outside plugin's tests
// cannot import sov's own test workspace.
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, connect, type AddressInfo, type Server, type Socket } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";

export const IN_CI = process.env.CI === "true";
export const IS_ROOT = process.getuid?.() === 0;
export const SSHD = "/usr/sbin/sshd";

export { hasTool, needTools } from "@sov/core/testing";

/**
 * A scratch directory removed after the test. As root it lives under /run (root-owned, 0755
 * all the way up), since sov refuses lock and plugin paths below world-writable /tmp.
 */
export function scratch(t: TestContext | { after(fn: () => void): void }, label: string): string {
  const base = IS_ROOT ? "/run/sov-plugin-dest-sftp-test" : join(tmpdir(), "sov-plugin-dest-sftp-test");
  mkdirSync(base, { recursive: true, mode: 0o755 });
  const dir = mkdtempSync(join(base, `${label.replace(/[^a-z0-9]+/gi, "-").slice(0, 40)}-`));
  chmodSync(dir, 0o755);
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export interface SshServer {
  readonly port: number;
  readonly user: string;
  /** The user's private key (unencrypted, 0600) and a known_hosts pinning this server. */
  readonly keyFile: string;
  readonly knownHosts: string;
  /** `ssh-ed25519 AAAA...` of the server's host key. */
  readonly hostKey: string;
  /** A directory the SFTP user can write: the tests' remote archive directories go below it. */
  readonly root: string;
  /** A known_hosts line for this server's key under another name (for a proxy's port). */
  knownHostsLine(port: number): string;
  /** The pids of the sshd session processes now serving a connection. */
  sessions(): number[];
  stop(): Promise<void>;
}

/**
 * Starts `sshd -D -e` on a free port of 127.0.0.1 with a fresh ed25519 host key and user key,
 * internal-sftp, public-key login only. As root it logs in as root; otherwise as the current
 * user (sshd then runs unprivileged, which is enough for SFTP).
 */
export async function startSshd(t: TestContext | { after(fn: () => void | Promise<void>): void }, dir: string): Promise<SshServer> {
  const etc = join(dir, "sshd");
  mkdirSync(etc, { recursive: true, mode: 0o700 });
  if (IS_ROOT) mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
  const hostKeyFile = join(etc, "host_ed25519");
  const keyFile = join(etc, "user_ed25519");
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "sov-test-host", "-f", hostKeyFile]);
  execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "sov-test-user", "-f", keyFile]);
  chmodSync(keyFile, 0o600);
  writeFileSync(join(etc, "authorized_keys"), readFileSync(`${keyFile}.pub`));
  const user = userInfo().username;
  const root = join(dir, "remote");
  mkdirSync(root, { recursive: true, mode: 0o700 });
  const config = join(etc, "sshd_config");
  writeFileSync(
    config,
    [
      "ListenAddress 127.0.0.1",
      `HostKey ${hostKeyFile}`,
      `PidFile ${join(etc, "sshd.pid")}`,
      `AuthorizedKeysFile ${join(etc, "authorized_keys")}`,
      "StrictModes no",
      "PubkeyAuthentication yes",
      "PasswordAuthentication no",
      "KbdInteractiveAuthentication no",
      "PermitRootLogin prohibit-password",
      "UsePAM no",
      "Subsystem sftp internal-sftp",
      "LogLevel VERBOSE",
      "MaxStartups 100",
      "",
    ].join("\n"),
  );
  const hostKey = readFileSync(`${hostKeyFile}.pub`, "utf8").split(" ").slice(0, 2).join(" ");
  let lastError: Error | undefined;
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const child = spawn(SSHD, ["-D", "-e", "-f", config, "-p", String(port)], { stdio: ["ignore", "ignore", "pipe"] });
    let log = "";
    child.stderr!.setEncoding("utf8").on("data", (s: string) => (log += s));
    try {
      await waitForListening(child, () => log, port);
    } catch (err) {
      lastError = err as Error;
      child.kill("SIGKILL");
      continue;
    }
    const knownHosts = join(etc, "known_hosts");
    const knownHostsLine = (p: number) => `[127.0.0.1]:${p} ${hostKey}\n`;
    writeFileSync(knownHosts, knownHostsLine(port));
    const server: SshServer = {
      port,
      user,
      keyFile,
      knownHosts,
      hostKey,
      root,
      knownHostsLine,
      sessions: () => childrenOf(child.pid!),
      stop: () => stopSshd(child),
    };
    t.after(() => server.stop());
    return server;
  }
  throw new Error(`sshd did not start: ${lastError?.message}`);
}

function waitForListening(child: ChildProcess, log: () => string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => done(new Error(`sshd did not listen on ${port} within 10s:\n${log()}`)), 10_000);
    const poll = setInterval(() => {
      if (log().includes(`Server listening on 127.0.0.1 port ${port}`)) done();
    }, 20);
    const onExit = (code: number | null) => done(new Error(`sshd exited (${code}) before listening:\n${log()}`));
    child.once("exit", onExit);
    function done(err?: Error) {
      clearTimeout(timer);
      clearInterval(poll);
      child.off("exit", onExit);
      if (err) reject(err);
      else resolve();
    }
  });
}

/** Processes whose parent is `pid` (sshd forks one per connection), from /proc. */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[1]) === pid) out.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** Stops the listener and every session it forked (a session outlives its listener otherwise). */
async function stopSshd(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const sessions = childrenOf(child.pid!);
  for (const pid of sessions) {
    for (const grandchild of childrenOf(pid)) killQuietly(grandchild);
    killQuietly(pid);
  }
  const exited = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
  if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    // already gone
  }
}

/**
 * A TCP proxy on 127.0.0.1 in front of `targetPort`. `cutAfter` bytes from the client towards
 * the server, it resets both sides: to the client that is a server dropping the connection
 * mid-upload.
 */
export interface CuttingProxy {
  readonly port: number;
  /** Bytes forwarded client → server so far, over all connections. */
  readonly forwarded: () => number;
  /** True once a connection was cut. */
  readonly cut: () => boolean;
  close(): Promise<void>;
}

export async function startCuttingProxy(
  t: { after(fn: () => void | Promise<void>): void },
  targetPort: number,
  cutAfter: number,
  /** `reset`: both sides get a TCP reset. `freeze`: nothing more is forwarded, the sockets stay open (a dead link). */
  mode: "reset" | "freeze" = "reset",
): Promise<CuttingProxy> {
  let forwarded = 0;
  let wasCut = false;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(targetPort, "127.0.0.1");
    sockets.add(client).add(upstream);
    const cut = () => {
      wasCut = true;
      if (mode === "freeze") return;
      client.resetAndDestroy();
      upstream.resetAndDestroy();
    };
    client.on("data", (chunk: Buffer) => {
      if (wasCut) return;
      forwarded += chunk.length;
      if (forwarded >= cutAfter) return cut();
      upstream.write(chunk);
    });
    upstream.on("data", (chunk: Buffer) => {
      if (!wasCut) client.write(chunk);
    });
    client.on("end", () => upstream.end());
    upstream.on("end", () => client.end());
    for (const s of [client, upstream]) {
      s.on("error", () => {});
      s.on("close", () => {
        sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const proxy: CuttingProxy = {
    port: (server.address() as AddressInfo).port,
    forwarded: () => forwarded,
    cut: () => wasCut,
    close: () =>
      new Promise((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
  t.after(() => proxy.close());
  return proxy;
}
