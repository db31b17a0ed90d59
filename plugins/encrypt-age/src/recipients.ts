import { readFile } from "node:fs/promises";
import { isAbsolute } from "node:path";
import { ConfigError } from "@sov/core";
import { Encrypter } from "age-encryption";

export interface RecipientOptions {
  /** A file in the format `age -R` reads: one recipient a line, `#` comments, blank lines. */
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
 */
export async function loadRecipients(options: Readonly<RecipientOptions>): Promise<RecipientSet> {
  const recipients: string[] = [];
  const sources: string[] = [];
  const file = options.recipients_file;
  if (file !== undefined) {
    if (!isAbsolute(file)) throw new ConfigError(`recipients_file must be an absolute path, not ${file}`);
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
  if (recipients.length === 0) {
    const looked = file === undefined ? "no recipients are configured" : `${file} has no recipient lines and no inline recipients are set`;
    throw new ConfigError(`${looked}; every archive needs at least one age recipient (age-keygen -y KEYFILE prints one)`);
  }
  return { recipients, sources };
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
 * Returns `value` if age-encryption accepts it as a recipient. Error messages never repeat a
 * value that could be secret: only something already shaped like a public key is quoted.
 */
export function checkRecipient(value: string, where: string): string {
  if (/^AGE-SECRET-KEY-/i.test(value)) {
    throw new ConfigError(
      `${where}: this is a private identity, not a recipient; the host must never hold it. ` +
        "Remove it, keep it offline, and list its public key (age-keygen -y) instead",
    );
  }
  if (/^ssh-(ed25519|rsa)(\s|$)/.test(value)) {
    throw new ConfigError(`${where}: ssh recipients are not supported yet; use an age1... recipient from age-keygen`);
  }
  try {
    new Encrypter().addRecipient(value);
  } catch {
    const shown = /^age1[0-9a-z]*$/.test(value) ? ` '${abbreviateRecipient(value)}'` : "";
    throw new ConfigError(`${where}: not a valid age recipient${shown} (expected age1... or age1pq1...)`);
  }
  return value;
}

/** `age1pq1...` recipients are about 2000 characters; a shortened form is enough to tell them apart. */
export function abbreviateRecipient(recipient: string): string {
  return recipient.length <= 80 ? recipient : `${recipient.slice(0, 24)}...${recipient.slice(-12)}`;
}
