import { createHash, createHmac, timingSafeEqual } from "node:crypto";

/** One usable line of an OpenSSH known_hosts file. */
export interface KnownHostEntry {
  readonly marker: "" | "@revoked" | "@cert-authority";
  /** The host patterns as written (`host,[host]:2222`, or one hashed `|1|salt|hash`). */
  readonly patterns: string;
  readonly keyType: string;
  /** The key blob, as the server sends it in SSH wire format. */
  readonly key: Buffer;
  readonly line: number;
}

/**
 * Parses known_hosts text: `[marker] patterns keytype base64 [comment]` per line, `#` comments
 * and blank lines skipped. Lines that cannot be read are skipped (OpenSSH does the same).
 */
export function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (!line || line.startsWith("#")) return;
    const fields = line.split(/\s+/);
    let marker: KnownHostEntry["marker"] = "";
    if (fields[0] === "@revoked" || fields[0] === "@cert-authority") marker = fields.shift() as KnownHostEntry["marker"];
    const [patterns, keyType, b64] = fields;
    if (!patterns || !keyType || !b64 || !/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) return;
    const key = Buffer.from(b64, "base64");
    if (keyTypeOf(key) !== keyType) return;
    entries.push({ marker, patterns, keyType, key, line: i + 1 });
  });
  return entries;
}

/** How OpenSSH names a host in known_hosts: `host` on port 22, `[host]:port` otherwise. */
export function knownHostsName(host: string, port: number): string {
  const h = host.toLowerCase();
  return port === 22 ? h : `[${h}]:${port}`;
}

/** Does `name` (from knownHostsName) match an entry's patterns: hashed, wildcards, negations. */
export function matchesHost(patterns: string, name: string): boolean {
  if (patterns.startsWith("|1|")) return matchesHashed(patterns, name);
  let matched = false;
  for (const pattern of patterns.split(",")) {
    const negated = pattern.startsWith("!");
    if (globMatch(negated ? pattern.slice(1) : pattern, name)) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

function matchesHashed(entry: string, name: string): boolean {
  const [, , salt, hash] = entry.split("|");
  if (!salt || !hash) return false;
  const expected = Buffer.from(hash, "base64");
  const actual = createHmac("sha1", Buffer.from(salt, "base64")).update(name).digest();
  return expected.length === actual.length && timingSafeEqual(expected, actual);
}

function globMatch(pattern: string, text: string): boolean {
  const re = pattern
    .toLowerCase()
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, ".*")
    .replace(/\?/g, ".");
  return new RegExp(`^${re}$`).test(text);
}

/** The key type inside an SSH wire-format key blob (`ssh-ed25519`, `ssh-rsa`, ...). */
export function keyTypeOf(blob: Buffer): string | null {
  if (blob.length < 4) return null;
  const len = blob.readUInt32BE(0);
  if (len === 0 || len > 64 || 4 + len > blob.length) return null;
  return blob.subarray(4, 4 + len).toString("latin1");
}

/** `SHA256:...` as `ssh-keygen -lf` prints it. */
export function fingerprint(blob: Buffer): string {
  return `SHA256:${createHash("sha256").update(blob).digest("base64").replace(/=+$/, "")}`;
}

/** What known_hosts says about one host. */
export interface HostPin {
  /** The name looked up (`[127.0.0.1]:2222`). */
  readonly name: string;
  /** Keys the server may present. */
  readonly keys: readonly KnownHostEntry[];
  /** Keys marked @revoked for this host (or for every host). */
  readonly revoked: readonly KnownHostEntry[];
}

export function pinFor(entries: readonly KnownHostEntry[], host: string, port: number): HostPin {
  const name = knownHostsName(host, port);
  return {
    name,
    keys: entries.filter((e) => e.marker === "" && matchesHost(e.patterns, name)),
    revoked: entries.filter((e) => e.marker === "@revoked" && matchesHost(e.patterns, name)),
  };
}

export type HostKeyVerdict = { ok: true } | { ok: false; reason: string };

/** Accept the server's key only if it is one of the pinned keys and not revoked. */
export function verifyHostKey(pin: HostPin, presented: Buffer, knownHostsFile: string): HostKeyVerdict {
  const type = keyTypeOf(presented) ?? "unknown";
  const fp = fingerprint(presented);
  if (pin.revoked.some((e) => e.key.equals(presented))) {
    return { ok: false, reason: `the host key of ${pin.name} (${type} ${fp}) is marked @revoked in ${knownHostsFile}` };
  }
  if (pin.keys.some((e) => e.key.equals(presented))) return { ok: true };
  if (pin.keys.length === 0) {
    return { ok: false, reason: `${pin.name} is not in ${knownHostsFile}; refusing an unknown host key (${type} ${fp})` };
  }
  const pinned = pin.keys.map((e) => `${e.keyType} ${fingerprint(e.key)} (line ${e.line})`).join(", ");
  return {
    ok: false,
    reason: `HOST KEY MISMATCH for ${pin.name}: the server presented ${type} ${fp}, ${knownHostsFile} pins ${pinned}; refusing to connect (someone may be intercepting, or the host key changed)`,
  };
}

/** The host key algorithms to offer, so the server presents a type that is pinned. */
export function hostKeyAlgorithms(pin: HostPin): string[] {
  const out = new Set<string>();
  for (const { keyType } of pin.keys) {
    if (keyType === "ssh-rsa") ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"].forEach((a) => out.add(a));
    else out.add(keyType);
  }
  return [...out];
}
