import { readFile } from "node:fs/promises";
import { isAbsolute } from "node:path";
import { checkTrustedFile, ConfigError } from "@sov/core";
import { Encrypter, type Recipient } from "age-encryption";
import { isSshKeyLine, parseSshPublicKeyLine, sshFingerprint } from "./ssh-keys.js";
import { sshRecipient } from "./ssh-stanzas.js";
import { SshKeyError } from "./ssh-wire.js";

export interface RecipientOptions {
  /**
   * A file in the format `age -R` reads: one recipient a line (`age1...`, `ssh-ed25519 ...`,
   * `ssh-rsa ...`), `#` comments, blank lines.
   */
  recipients_file?: string;
  /** Recipients given inline in the config. */
  recipients?: string[];
}

export interface RecipientSet {
  /** The recipients in the order given: the file's first, then the inline ones. */
  readonly recipients: readonly string[];
  /** Where they came from, for `describe()`: a path, `inline`, or both. */
  readonly sources: readonly string[];
}

/**
 * Reads and checks every configured recipient; any problem is a ConfigError naming the file and
 * line or the option at fault (the core prefixes the plugin name).
 *
 * Whoever can write the recipients file can add their own key and read every later archive, so
 * it is checked like a hook before it is read: a regular file, not a symlink, and when running
 * as root, owned by root and writable by nobody else, as is every parent directory.
 */
export async function loadRecipients(options: Readonly<RecipientOptions>): Promise<RecipientSet> {
  const recipients: string[] = [];
  const sources: string[] = [];
  const file = options.recipients_file;
  if (file !== undefined) {
    if (!isAbsolute(file)) throw new ConfigError(`recipients_file must be an absolute path, not ${file}`);
    await checkTrustedFile(file, "recipients file", { executable: false });
    let text: string;
    try {
      text = await readFile(file, "utf8");
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? "unknown error";
      throw new ConfigError(`cannot read recipients_file ${file} (${code})`);
    }
    recipients.push(...parseRecipients(text, file));
    sources.push(file);
  }
  if (options.recipients?.length) {
    options.recipients.forEach((value, i) => recipients.push(checkRecipient(value.trim(), `recipients[${i}]`)));
    sources.push("inline");
  }
  refuseMixedRecipients(recipients, sources);
  if (recipients.length === 0) {
    const looked = file === undefined ? "no recipients are configured" : `${file} has no recipient lines and no inline recipients are set`;
    throw new ConfigError(`${looked}; every archive needs at least one age recipient (age-keygen -y KEYFILE prints one, or use an ssh-ed25519 public key)`);
  }
  return { recipients, sources };
}

/**
 * A file key wrapped for a classic recipient too is only as safe as that recipient: a future
 * quantum attacker reads the archive through it, and the post-quantum one protects nothing.
 * age 1.3 refuses the mix; so does sov.
 */
function refuseMixedRecipients(recipients: readonly string[], sources: readonly string[]): void {
  const postQuantum = recipients.find((r) => r.startsWith("age1pq1"));
  const classic = recipients.find((r) => !r.startsWith("age1pq1"));
  if (!postQuantum || !classic) return;
  throw new ConfigError(
    `the recipients (from ${sources.join(" and ")}) mix post-quantum (${abbreviateRecipient(postQuantum)}) and classic ` +
      `(${abbreviateRecipient(classic)}) keys: the classic one would let a future quantum attacker read every archive, so age 1.3 ` +
      "refuses this mix and so does sov. List only age1pq1... recipients, or only classic ones (age1..., ssh-)",
  );
}

/**
 * Parses recipients-file text in the format `age -R` reads, a little more leniently (spaces
 * around a line are ignored too). `source` names the file in errors.
 */
export function parseRecipients(text: string, source: string): string[] {
  const recipients: string[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    recipients.push(checkRecipient(line, `${source} line ${i + 1}`));
  });
  return recipients;
}

/**
 * Returns `value` if it is a usable recipient: one age-encryption accepts, or an ssh-ed25519 or
 * ssh-rsa public key. Error messages never repeat a value that could be secret: only something
 * already shaped like a public key is quoted.
 */
export function checkRecipient(value: string, where: string): string {
  if (/^AGE-SECRET-KEY-/i.test(value)) {
    throw new ConfigError(
      `${where}: this is a private identity, not a recipient; the host must never hold it. ` +
        "Remove it, keep it offline, and list its public key (age-keygen -y) instead",
    );
  }
  if (/^-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(value)) {
    throw new ConfigError(
      `${where}: this is the start of a private key, not a recipient; the host must never hold it. ` +
        "Remove it and list its public key (the .pub line) instead",
    );
  }
  if (isSshKeyLine(value)) {
    try {
      sshRecipient(parseSshPublicKeyLine(value).key);
    } catch (err) {
      if (err instanceof SshKeyError) throw new ConfigError(`${where}: ${err.message}`);
      throw err;
    }
    return value;
  }
  try {
    new Encrypter().addRecipient(value);
  } catch {
    const shown = /^age1[0-9a-z]*$/.test(value) ? ` '${abbreviateRecipient(value)}'` : "";
    throw new ConfigError(`${where}: not a valid age recipient${shown} (expected age1..., age1pq1..., ssh-ed25519 or ssh-rsa)`);
  }
  return value;
}

/** The age-encryption form of a checked recipient: the string itself, or an ssh Recipient object. */
export function toAgeRecipient(recipient: string): string | Recipient {
  return isSshKeyLine(recipient) ? sshRecipient(parseSshPublicKeyLine(recipient).key) : recipient;
}

/**
 * A recipient short enough to list: `age1pq1...` recipients are about 2000 characters and
 * ssh-rsa keys several hundred, so those are shortened. ssh keys are shown by the fingerprint
 * `ssh-keygen -l -f KEY.pub` prints, and their comment.
 */
export function abbreviateRecipient(recipient: string): string {
  if (isSshKeyLine(recipient)) {
    try {
      const { key, comment } = parseSshPublicKeyLine(recipient);
      return [key.type, sshFingerprint(key.wire), comment].filter(Boolean).join(" ");
    } catch {
      // Not checked yet; fall through to the plain shortening.
    }
  }
  return recipient.length <= 80 ? recipient : `${recipient.slice(0, 24)}...${recipient.slice(-12)}`;
}
