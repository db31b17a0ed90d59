import assert from "node:assert/strict";
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { once } from "node:events";
import type { Transform } from "node:stream";
import type { TestContext } from "node:test";
import { createStageHooks, silentLogger, type Encryptor, type RunInfo } from "@sov/core";
import { generateX25519Identity, identityToRecipient } from "age-encryption";
import plugin, { createDecryptStream, createEncryptStream } from "../src/index.js";

export const IN_CI = process.env.CI === "true";
export const IS_ROOT = process.geteuid?.() === 0;

export { hasTool, needRoot, needTools } from "@sov/core/testing";

/**
 * A scratch directory for one test. As root it lives under /run/sov-test (root-owned, 0755 all
 * the way up), because the recipients file must sit in directories only root can write, and
 * /tmp is world-writable.
 */
export function scratch(t: TestContext): string {
  const base = IS_ROOT ? "/run/sov-test" : tmpdir();
  if (IS_ROOT) {
    mkdirSync(base, { recursive: true, mode: 0o755 });
    chmodSync(base, 0o755);
  }
  const dir = mkdtempSync(join(base, "sov-encrypt-age-"));
  chmodSync(dir, 0o755);
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** The encryptor the way a run gets it: through the plugin's tap. */
export async function encryptorFor(options: Record<string, unknown>): Promise<Encryptor> {
  const hooks = createStageHooks();
  plugin.apply(hooks, options, { instance: plugin.name, host: "test", configDir: "/", log: silentLogger() });
  const run: RunInfo = { host: "test", startedAt: new Date(), dryRun: false, signal: new AbortController().signal };
  const encryptor = await hooks.encrypt.promise(run);
  assert.ok(encryptor);
  return encryptor;
}

export interface KeyPair {
  readonly identity: string;
  readonly recipient: string;
  /** An identity file holding only `identity`. */
  readonly identityFile: string;
}

export async function makeKeyPair(dir: string, name: string): Promise<KeyPair> {
  const identity = await generateX25519Identity();
  const identityFile = join(dir, `${name}.key`);
  writeFileSync(identityFile, `# test identity ${name}\n${identity}\n`, { mode: 0o600 });
  return { identity, recipient: await identityToRecipient(identity), identityFile };
}

export interface TransformResult {
  readonly output: Buffer;
  readonly error: Error | undefined;
}

/**
 * Feeds `input` through `transform` in pieces of `chunkSize` bytes, honouring backpressure, and
 * collects what it emits until it ends or fails (output emitted before a failure is kept).
 */
export async function runTransform(transform: Transform, input: Uint8Array, chunkSize = 64 * 1024): Promise<TransformResult> {
  const output: Buffer[] = [];
  transform.on("data", (chunk: Buffer) => output.push(chunk));
  const settled = new Promise<Error | undefined>((resolve) => {
    transform.once("end", () => resolve(undefined));
    transform.once("error", resolve);
  });
  const bytes = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  for (let i = 0; i < bytes.length && !transform.destroyed; i += chunkSize) {
    if (!transform.write(bytes.subarray(i, i + chunkSize))) {
      await Promise.race([once(transform, "drain"), settled]);
    }
  }
  if (!transform.destroyed) transform.end();
  const error = await settled;
  return { output: Buffer.concat(output), error };
}

export async function encrypt(recipients: string[], plaintext: Uint8Array, chunkSize?: number): Promise<Buffer> {
  const { output, error } = await runTransform(await createEncryptStream(recipients), plaintext, chunkSize);
  if (error) throw error;
  return output;
}

export async function decrypt(identityFile: string, ciphertext: Uint8Array, chunkSize?: number): Promise<TransformResult> {
  return runTransform(await createDecryptStream({ identityFile, log: silentLogger() }), ciphertext, chunkSize);
}
