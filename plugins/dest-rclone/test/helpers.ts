import { spawn, spawnSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { setTimeout } from "node:timers/promises";
import type { TestContext } from "node:test";
import { silentLogger, type ObjectWrite } from "@sov/core";

import { trustedScratch } from "@sov/core/testing";

export { needRoot, needTools } from "@sov/core/testing";

/** As root, a directory only root can write: the config file and binary checks demand it. */
export function scratch(t: TestContext): string {
  return trustedScratch(t, "sov-dest-rclone");
}

export function contextFor(instance = "cloud") {
  return { instance, host: "web1", configDir: "/", log: silentLogger(), env: process.env };
}

/** An rclone.conf at mode 0600 with one section. */
export function writeConfig(dir: string, section: string, settings: Record<string, string | number>): string {
  const file = join(dir, "rclone.conf");
  const lines = Object.entries(settings).map(([key, value]) => `${key} = ${value}`);
  writeFileSync(file, `[${section}]\n${lines.join("\n")}\n`, { mode: 0o600 });
  return file;
}

/**
 * A real SFTP server, `rclone serve sftp`, on 127.0.0.1 and a free port, serving `root`;
 * stopped by its pid after the test. Returns the remote's config settings.
 */
export async function serveSftp(t: TestContext, dir: string, root: string): Promise<Record<string, string | number>> {
  const port = await freePort();
  const password = "sov-test-password";
  const server = spawn("rclone", ["serve", "sftp", "--config", "/dev/null", "--cache-dir", join(dir, "cache"), "--addr", `127.0.0.1:${port}`, "--user", "sov", "--pass", password, root], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  t.after(() => {
    server.kill();
  });
  let log = "";
  server.stderr.on("data", (chunk: Buffer) => (log += chunk.toString()));
  for (let waited = 0; !log.includes("listening on"); waited += 50) {
    if (waited > 15_000 || server.exitCode !== null) throw new Error(`rclone serve sftp did not start: ${log}`);
    await setTimeout(50);
  }
  const obscured = spawnSync("rclone", ["obscure", password], { encoding: "utf8" }).stdout.trim();
  return { type: "sftp", host: "127.0.0.1", port, user: "sov", pass: obscured, shell_type: "none" };
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export async function writeAll(write: ObjectWrite, data: Buffer): Promise<void> {
  const chunks: Buffer[] = [];
  for (let at = 0; at < data.length; at += 1 << 20) chunks.push(data.subarray(at, at + (1 << 20)));
  await pipeline(Readable.from(chunks), write.writable);
}
