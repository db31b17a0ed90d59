import { createHash, createPrivateKey, type JsonWebKey, type KeyObject } from "node:crypto";
import { ed25519 } from "@noble/curves/ed25519.js";
import {
  bigintFromBytes,
  bigintToBytes,
  decodePaddedBase64,
  SshKeyError,
  WireReader,
  wireMpint,
  wireString,
} from "./ssh-wire.js";

/**
 * SSH keys as age uses them: public keys from `authorized_keys`-style lines (recipients) and
 * unencrypted private key files (identities). Only ssh-ed25519 and ssh-rsa exist in age.
 */
export const SSH_ED25519 = "ssh-ed25519";
export const SSH_RSA = "ssh-rsa";

export interface SshEd25519PublicKey {
  readonly type: typeof SSH_ED25519;
  /** The SSH wire encoding of the key: what the tag and the ssh-ed25519 tweak hash. */
  readonly wire: Buffer;
  /** The 32-byte Ed25519 public key. */
  readonly key: Buffer;
}

export interface SshRsaPublicKey {
  readonly type: typeof SSH_RSA;
  readonly wire: Buffer;
  readonly n: bigint;
  readonly e: bigint;
  /** The modulus size. */
  readonly bits: number;
}

export type SshPublicKey = SshEd25519PublicKey | SshRsaPublicKey;

export type SshPrivateKey =
  | { readonly type: typeof SSH_ED25519; readonly publicKey: SshEd25519PublicKey; readonly seed: Buffer }
  | { readonly type: typeof SSH_RSA; readonly publicKey: SshRsaPublicKey; readonly privateKey: KeyObject };

/** The key file is passphrase-protected: sov cannot prompt for the passphrase, the age CLI can. */
export class SshPassphraseError extends SshKeyError {}

/**
 * True for a line shaped like an OpenSSH public key (`ssh-...`, `ecdsa-sha2-...`, `sk-...`),
 * supported or not, so that unsupported types get a message of their own.
 */
export function isSshKeyLine(line: string): boolean {
  return /^(ssh-|ecdsa-sha2-|sk-)\S*([ \t]|$)/.test(line);
}

/** Parses `ssh-ed25519 AAAA... [comment]` or `ssh-rsa AAAA... [comment]`. */
export function parseSshPublicKeyLine(line: string): { key: SshPublicKey; comment: string } {
  const [type = "", encoded, ...comment] = line.trim().split(/[ \t]+/);
  if (type !== SSH_ED25519 && type !== SSH_RSA) {
    throw new SshKeyError(`${printable(type)} keys cannot be age recipients; age supports ssh-ed25519 and ssh-rsa keys, or use an age1... recipient`);
  }
  if (encoded === undefined) throw new SshKeyError(`the ${type} line has no key after the type`);
  const blob = decodePaddedBase64(encoded);
  if (!blob) throw new SshKeyError(`the ${type} key is not valid base64`);
  const key = parseSshPublicKeyBlob(blob, `the ${type} key`);
  if (key.type !== type) throw new SshKeyError(`the line says ${type}, but the key inside is ${key.type}`);
  return { key, comment: comment.join(" ") };
}

/** Parses the SSH wire encoding of a public key. */
export function parseSshPublicKeyBlob(blob: Uint8Array, what: string): SshPublicKey {
  const reader = new WireReader(blob, what);
  const type = reader.name();
  if (type === SSH_ED25519) {
    const key = Buffer.from(reader.string());
    reader.end();
    if (key.length !== 32) throw new SshKeyError(`${what} is ${key.length} bytes long, not 32`);
    return { type, wire: Buffer.from(blob), key };
  }
  if (type === SSH_RSA) {
    const e = reader.positiveMpint("exponent");
    const n = reader.positiveMpint("modulus");
    reader.end();
    return { type, wire: Buffer.from(blob), n, e, bits: n.toString(2).length };
  }
  throw new SshKeyError(`${what} holds a ${printable(type)} key`);
}

/** The fingerprint `ssh-keygen -l` prints: `SHA256:` and unpadded base64 of the blob's hash. */
export function sshFingerprint(wire: Uint8Array): string {
  return `SHA256:${createHash("sha256").update(wire).digest("base64").replace(/=+$/, "")}`;
}

/**
 * Reads an unencrypted SSH private key, as `age -d -i` does: the OpenSSH format
 * (`-----BEGIN OPENSSH PRIVATE KEY-----`, what ssh-keygen writes) or PEM (`RSA PRIVATE KEY`,
 * `PRIVATE KEY`). A passphrase-protected key is an SshPassphraseError.
 */
export function parseSshPrivateKey(text: string): SshPrivateKey {
  const pem = text.trim();
  const label = /^-----BEGIN ([A-Z0-9 ]+)-----/.exec(pem)?.[1];
  if (label === "OPENSSH PRIVATE KEY") return parseOpenSshPrivateKey(pem);
  if (label === "ENCRYPTED PRIVATE KEY" || (label === "RSA PRIVATE KEY" && /^Proc-Type: 4,ENCRYPTED/m.test(pem))) {
    throw new SshPassphraseError("the key is protected by a passphrase");
  }
  if (label === "RSA PRIVATE KEY" || label === "PRIVATE KEY") return parsePemPrivateKey(pem);
  throw new SshKeyError(
    label === undefined ? "it is not a PEM or OpenSSH key file" : `a ${label} cannot be an age identity; age reads ssh-ed25519 and ssh-rsa keys`,
  );
}

const OPENSSH_MAGIC = Buffer.from("openssh-key-v1\0", "latin1");
const OPENSSH_WHAT = "the OpenSSH private key";

/** The format of OpenSSH's PROTOCOL.key: a public section and a private section, for one key. */
function parseOpenSshPrivateKey(pem: string): SshPrivateKey {
  const lines = pem.split(/\r?\n/).map((line) => line.trim());
  const end = lines.indexOf("-----END OPENSSH PRIVATE KEY-----");
  if (end < 0) throw new SshKeyError(`${OPENSSH_WHAT} has no END line`);
  const body = decodePaddedBase64(lines.slice(1, end).join(""));
  if (!body) throw new SshKeyError(`${OPENSSH_WHAT} is not valid base64`);
  const outer = new WireReader(body, OPENSSH_WHAT);
  if (!outer.bytes(OPENSSH_MAGIC.length).equals(OPENSSH_MAGIC)) throw new SshKeyError(`${OPENSSH_WHAT} does not start with openssh-key-v1`);
  const cipher = outer.name();
  const kdf = outer.name();
  outer.string(); // KDF options
  if (cipher !== "none" || kdf !== "none") throw new SshPassphraseError("the key is protected by a passphrase");
  const count = outer.uint32();
  if (count !== 1) throw new SshKeyError(`${OPENSSH_WHAT} holds ${count} keys, not one`);
  const publicBlob = outer.string();
  const inner = new WireReader(outer.string(), OPENSSH_WHAT);
  outer.end();

  // Two equal check words: after a wrong passphrase they differ; unencrypted, a mismatch is damage.
  if (inner.uint32() !== inner.uint32()) throw new SshKeyError(`${OPENSSH_WHAT} is corrupt (check words differ)`);
  const type = inner.name();
  let key: SshPrivateKey;
  if (type === SSH_ED25519) key = readEd25519Private(inner);
  else if (type === SSH_RSA) key = readRsaPrivate(inner);
  else throw new SshKeyError(`a ${printable(type)} key cannot be an age identity; age reads ssh-ed25519 and ssh-rsa keys`);
  inner.string(); // comment
  for (let pad = 1; inner.remaining > 0; pad++) {
    if (inner.bytes(1)[0] !== pad) throw new SshKeyError(`${OPENSSH_WHAT} is corrupt (bad padding)`);
  }
  if (!key.publicKey.wire.equals(publicBlob)) throw new SshKeyError(`${OPENSSH_WHAT} is corrupt (its public and private parts differ)`);
  return key;
}

function readEd25519Private(reader: WireReader): SshPrivateKey {
  const publicBytes = Buffer.from(reader.string());
  const secret = reader.string();
  // The private half is seed || public key.
  if (publicBytes.length !== 32 || secret.length !== 64 || !secret.subarray(32).equals(publicBytes)) {
    throw new SshKeyError(`${OPENSSH_WHAT} has a malformed ssh-ed25519 key`);
  }
  return ed25519PrivateKey(Buffer.from(secret.subarray(0, 32)), publicBytes);
}

function ed25519PrivateKey(seed: Buffer, publicBytes: Buffer): SshPrivateKey {
  if (!Buffer.from(ed25519.getPublicKey(seed)).equals(publicBytes)) {
    throw new SshKeyError("the ssh-ed25519 private key does not match its public key");
  }
  const wire = Buffer.concat([wireString(SSH_ED25519), wireString(publicBytes)]);
  return { type: SSH_ED25519, publicKey: { type: SSH_ED25519, wire, key: publicBytes }, seed };
}

function readRsaPrivate(reader: WireReader): SshPrivateKey {
  const [n, e, d, iqmp, p, q] = (["modulus", "exponent", "private exponent", "iqmp", "p", "q"] as const).map((field) => reader.positiveMpint(field)) as [
    bigint, bigint, bigint, bigint, bigint, bigint,
  ];
  if (p * q !== n) throw new SshKeyError(`${OPENSSH_WHAT} has an inconsistent ssh-rsa key`);
  const jwk: JsonWebKey = {
    kty: "RSA",
    n: base64url(n),
    e: base64url(e),
    d: base64url(d),
    p: base64url(p),
    q: base64url(q),
    dp: base64url(d % (p - 1n)),
    dq: base64url(d % (q - 1n)),
    qi: base64url(iqmp),
  };
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: jwk, format: "jwk" });
  } catch {
    throw new SshKeyError(`${OPENSSH_WHAT} has an unusable ssh-rsa key`);
  }
  return { type: SSH_RSA, publicKey: rsaPublicKey(n, e), privateKey };
}

/** PEM keys, which OpenSSL reads for us. */
function parsePemPrivateKey(pem: string): SshPrivateKey {
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: pem, format: "pem" });
  } catch {
    throw new SshKeyError("the PEM private key cannot be read");
  }
  const jwk = privateKey.export({ format: "jwk" });
  if (privateKey.asymmetricKeyType === "rsa" && jwk.n && jwk.e) {
    return { type: SSH_RSA, publicKey: rsaPublicKey(fromBase64url(jwk.n), fromBase64url(jwk.e)), privateKey };
  }
  if (privateKey.asymmetricKeyType === "ed25519" && jwk.d && jwk.x) {
    return ed25519PrivateKey(Buffer.from(jwk.d, "base64url"), Buffer.from(jwk.x, "base64url"));
  }
  throw new SshKeyError(`a ${privateKey.asymmetricKeyType ?? "unknown"} key cannot be an age identity; age reads ssh-ed25519 and ssh-rsa keys`);
}

function rsaPublicKey(n: bigint, e: bigint): SshRsaPublicKey {
  const wire = Buffer.concat([wireString(SSH_RSA), wireMpint(e), wireMpint(n)]);
  return { type: SSH_RSA, wire, n, e, bits: n.toString(2).length };
}

export function base64url(value: bigint): string {
  return bigintToBytes(value).toString("base64url");
}

function fromBase64url(text: string): bigint {
  return bigintFromBytes(Buffer.from(text, "base64url"));
}

/** A key type name from a file, safe and short enough to quote in a message. */
function printable(type: string): string {
  const clean = type.replace(/[^\x21-\x7e]/g, "?");
  return clean.length > 40 ? `${clean.slice(0, 40)}...` : clean;
}
