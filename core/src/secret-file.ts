import { stat } from "node:fs/promises";
import { ConfigError } from "./errors.js";
import { checkTrustedFile } from "./trusted-path.js";

/**
 * Checks a file that holds secrets sov reads as root (S3 keys, an rclone config): the trust
 * checks of a hook (root-owned, writable by nobody else up its parents), and, as root, readable
 * by nobody but its owner, so a local user can neither swap the keys nor read them.
 */
export async function checkSecretFile(path: string, what: string): Promise<void> {
  await checkTrustedFile(path, what, { executable: false });
  if (process.geteuid?.() !== 0) return;
  const mode = (await stat(path)).mode & 0o7777;
  if (mode & 0o077) {
    throw new ConfigError(`${what}: ${path} is readable by group or others (mode ${mode.toString(8)}); chmod 0600 it`);
  }
}
