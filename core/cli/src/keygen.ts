import { constants as fsc } from "node:fs";
import { open } from "node:fs/promises";
import { ConfigError, ExitCode } from "@sov/core";
import { generateKeyPair } from "@sov/encrypt-age";

/**
 * `sov keygen [--out FILE] [--pq]`: a new age identity, in age-keygen's file format, and its
 * recipient. The file is created 0600 and never overwritten. The identity belongs offline: the
 * host keeps only the recipient.
 */
export async function keygen(opts: { out?: string | undefined; postQuantum: boolean }): Promise<number> {
  const { identity, recipient } = await generateKeyPair({ postQuantum: opts.postQuantum });
  const text = `# created: ${new Date().toISOString()}\n# public key: ${recipient}\n${identity}\n`;
  if (!opts.out) {
    process.stdout.write(text);
  } else {
    let handle;
    try {
      handle = await open(opts.out, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL, 0o600);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new ConfigError(code === "EEXIST" ? `${opts.out} exists; refusing to overwrite an identity` : `cannot create ${opts.out}: ${code}`);
    }
    try {
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    process.stdout.write(`${recipient}\n`);
  }
  process.stderr.write(
    `public key: ${recipient}\n` +
      "Put the public key in the host's recipients file. Move the identity OFF this host (paper, an\n" +
      "air-gapped stick): a host must never hold it. Without it no archive can be restored.\n",
  );
  return ExitCode.ok;
}
