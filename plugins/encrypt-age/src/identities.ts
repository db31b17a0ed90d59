import { readFile } from "node:fs/promises";
import { ConfigError } from "@sov/core";
import { Decrypter, type Identity } from "age-encryption";
import { isSshKeyLine, parseSshPrivateKey, SshPassphraseError } from "./ssh-keys.js";
import { sshIdentity } from "./ssh-stanzas.js";
import { SshKeyError } from "./ssh-wire.js";

/** An age identity string (`AGE-SECRET-KEY-1...`) or an Identity object (an ssh key). */
export type AgeIdentity = string | Identity;

/**
 * Reads an identity file the way `age -d -i` does: either age identities
 * (`AGE-SECRET-KEY-1...` and `AGE-SECRET-KEY-PQ-1...` lines, `#` comments, blank lines), or one
 * unencrypted SSH private key (ssh-ed25519 or ssh-rsa, OpenSSH or PEM format). Nothing from the
 * file ever reaches an error message.
 */
export async function readIdentities(file: string): Promise<AgeIdentity[]> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "unknown error";
    throw new ConfigError(`cannot read the age identity file ${file} (${code})`);
  }
  if (text.trimStart().startsWith("-----BEGIN")) return [readSshIdentity(text, file)];
  const identities: string[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    if (isSshKeyLine(line)) {
      throw new ConfigError(`identity file ${file} line ${i + 1} is an ssh public key; give the private key file (such as ~/.ssh/id_ed25519, not the .pub)`);
    }
    try {
      new Decrypter().addIdentity(line);
    } catch {
      throw new ConfigError(`identity file ${file} line ${i + 1} is not a valid age identity (expected AGE-SECRET-KEY-1...)`);
    }
    identities.push(line);
  });
  if (identities.length === 0) throw new ConfigError(`identity file ${file} has no identities`);
  return identities;
}

function readSshIdentity(text: string, file: string): Identity {
  try {
    return sshIdentity(parseSshPrivateKey(text));
  } catch (err) {
    if (err instanceof SshPassphraseError) {
      throw new ConfigError(
        `identity file ${file} is a passphrase-protected ssh key, and sov cannot ask for the passphrase; ` +
          `use the age CLI: age -d -i ${file} FILE`,
      );
    }
    if (err instanceof SshKeyError) throw new ConfigError(`identity file ${file} is not a usable ssh private key: ${err.message}`);
    throw err;
  }
}
