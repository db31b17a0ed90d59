import { readFile } from "node:fs/promises";
import { ConfigError } from "@sov/core";
import { Decrypter } from "age-encryption";

/**
 * Reads an age identity file (`AGE-SECRET-KEY-1...` and `AGE-SECRET-KEY-PQ-1...` lines, `#`
 * comments, blank lines). Nothing from the file ever reaches an error message.
 */
export async function readIdentities(file: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "unknown error";
    throw new ConfigError(`cannot read the age identity file ${file} (${code})`);
  }
  if (text.trimStart().startsWith("-----BEGIN")) {
    throw new ConfigError(`identity file ${file} holds an ssh or PEM key; only age identities (AGE-SECRET-KEY-1...) are supported`);
  }
  const identities: string[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
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
