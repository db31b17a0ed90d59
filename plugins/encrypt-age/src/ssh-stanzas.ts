import {
  constants,
  createCipheriv,
  createDecipheriv,
  createHash,
  createPublicKey,
  hkdfSync,
  privateDecrypt,
  publicEncrypt,
  randomBytes,
  type KeyObject,
} from "node:crypto";
import { ed25519, x25519 } from "@noble/curves/ed25519.js";
import { Stanza, type Identity, type Recipient } from "age-encryption";
import {
  base64url,
  SSH_ED25519,
  SSH_RSA,
  type SshEd25519PublicKey,
  type SshPrivateKey,
  type SshPublicKey,
  type SshRsaPublicKey,
} from "./ssh-keys.js";
import { ageBase64, decodeAgeBase64, SshKeyError } from "./ssh-wire.js";

/**
 * The ssh-rsa and ssh-ed25519 recipient types of age (https://age-encryption.org/v1, and
 * filippo.io/age/agessh, the reference), as age-encryption Recipient and Identity objects.
 * Both stanzas carry a tag, the first 4 bytes of SHA-256 of the SSH wire-format public key, so
 * an identity knows which stanza is its own.
 */

const ED25519_LABEL = Buffer.from("age-encryption.org/v1/ssh-ed25519");
const RSA_OAEP_LABEL = Buffer.from("age-encryption.org/v1/ssh-rsa");
/** Below this, an RSA recipient is refused: such keys are within reach of factoring. */
export const MIN_RSA_BITS = 2048;
const FILE_KEY_SIZE = 16;
const WRAPPED_KEY_SIZE = FILE_KEY_SIZE + 16;
const ZERO_NONCE = Buffer.alloc(12);

/** Makes the age Recipient for a parsed SSH public key; an unusable key is an SshKeyError. */
export function sshRecipient(key: SshPublicKey): Recipient {
  return key.type === SSH_ED25519 ? new SshEd25519Recipient(key) : new SshRsaRecipient(key);
}

/** Makes the age Identity for a parsed SSH private key. */
export function sshIdentity(key: SshPrivateKey): Identity {
  return key.type === SSH_ED25519 ? new SshEd25519Identity(key.publicKey, key.seed) : new SshRsaIdentity(key.publicKey, key.privateKey);
}

/** The stanza tag: base64 of the first 4 bytes of SHA-256 of the wire-format public key. */
export function sshTag(wire: Uint8Array): string {
  return ageBase64(createHash("sha256").update(wire).digest().subarray(0, 4));
}

/** `-> ssh-rsa <tag>`, body: RSA-OAEP-SHA-256 of the file key, labelled. */
class SshRsaRecipient implements Recipient {
  readonly #tag: string;
  readonly #key: KeyObject;

  constructor(key: SshRsaPublicKey) {
    if (key.bits < MIN_RSA_BITS) {
      throw new SshKeyError(`the ssh-rsa key has ${key.bits} bits, fewer than the ${MIN_RSA_BITS} required; use a larger key or ssh-ed25519`);
    }
    // ssh parsers (Go's among them) refuse exponents above 24 bits, and RSA needs an odd one.
    if (key.e < 3n || key.e % 2n === 0n || key.e >= 1n << 24n) throw new SshKeyError("the ssh-rsa key has an unusable public exponent");
    this.#tag = sshTag(key.wire);
    this.#key = createPublicKey({ key: { kty: "RSA", n: base64url(key.n), e: base64url(key.e) }, format: "jwk" });
  }

  wrapFileKey(fileKey: Uint8Array): Stanza[] {
    const body = publicEncrypt(
      { key: this.#key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256", oaepLabel: RSA_OAEP_LABEL },
      fileKey,
    );
    return [new Stanza([SSH_RSA, this.#tag], body)];
  }
}

class SshRsaIdentity implements Identity {
  readonly #tag: string;
  readonly #key: KeyObject;

  constructor(publicKey: SshRsaPublicKey, privateKey: KeyObject) {
    this.#tag = sshTag(publicKey.wire);
    this.#key = privateKey;
  }

  unwrapFileKey(stanzas: Stanza[]): Uint8Array | null {
    for (const stanza of stanzas) {
      if (stanza.args[0] !== SSH_RSA) continue;
      if (stanza.args.length !== 2) throw new Error("invalid ssh-rsa stanza");
      if (stanza.args[1] !== this.#tag) continue;
      let fileKey: Buffer;
      try {
        fileKey = privateDecrypt(
          { key: this.#key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256", oaepLabel: RSA_OAEP_LABEL },
          stanza.body,
        );
      } catch {
        throw new Error("an ssh-rsa stanza has this key's tag but does not decrypt with it");
      }
      if (fileKey.length !== FILE_KEY_SIZE) throw new Error("invalid ssh-rsa stanza (wrong file key size)");
      return fileKey;
    }
    return null;
  }
}

/**
 * `-> ssh-ed25519 <tag> <ephemeral share>`. The Ed25519 key is used as an X25519 key (its
 * Montgomery form), and the shared secret is multiplied once more by a tweak derived from the
 * SSH public key, binding the stanza to the whole SSH key encoding.
 */
class SshEd25519Recipient implements Recipient {
  readonly #tag: string;
  readonly #theirs: Uint8Array;
  readonly #tweak: Buffer;

  constructor(key: SshEd25519PublicKey) {
    let smallOrder: boolean;
    try {
      smallOrder = ed25519.Point.fromBytes(key.key).isSmallOrder();
    } catch {
      throw new SshKeyError("the ssh-ed25519 key is not a point on the curve");
    }
    if (smallOrder) throw new SshKeyError("the ssh-ed25519 key is a low-order point, not a usable key");
    this.#tag = sshTag(key.wire);
    this.#theirs = ed25519.utils.toMontgomery(key.key);
    this.#tweak = ed25519Tweak(key.wire);
  }

  wrapFileKey(fileKey: Uint8Array): Stanza[] {
    const ephemeral = randomBytes(32);
    try {
      const share = x25519.scalarMultBase(ephemeral);
      const secret = x25519.scalarMult(this.#tweak, x25519.scalarMult(ephemeral, this.#theirs));
      const wrapKey = ed25519WrapKey(secret, share, this.#theirs);
      return [new Stanza([SSH_ED25519, this.#tag, ageBase64(share)], sealFileKey(wrapKey, fileKey))];
    } finally {
      ephemeral.fill(0);
    }
  }
}

class SshEd25519Identity implements Identity {
  readonly #tag: string;
  readonly #secret: Uint8Array;
  readonly #ours: Uint8Array;
  readonly #tweak: Buffer;

  constructor(publicKey: SshEd25519PublicKey, seed: Buffer) {
    this.#tag = sshTag(publicKey.wire);
    // The X25519 scalar is the first half of SHA-512(seed), as for Ed25519 signing.
    this.#secret = ed25519.utils.toMontgomerySecret(seed);
    this.#ours = x25519.scalarMultBase(this.#secret);
    this.#tweak = ed25519Tweak(publicKey.wire);
  }

  unwrapFileKey(stanzas: Stanza[]): Uint8Array | null {
    for (const stanza of stanzas) {
      if (stanza.args[0] !== SSH_ED25519) continue;
      const share = stanza.args.length === 3 ? decodeAgeBase64(stanza.args[2]!) : undefined;
      if (share?.length !== 32) throw new Error("invalid ssh-ed25519 stanza");
      if (stanza.args[1] !== this.#tag) continue;
      if (stanza.body.length !== WRAPPED_KEY_SIZE) throw new Error("invalid ssh-ed25519 stanza (wrong body size)");
      let shared: Uint8Array;
      try {
        shared = x25519.scalarMult(this.#secret, share);
      } catch {
        throw new Error("invalid ssh-ed25519 stanza (low-order ephemeral share)");
      }
      const wrapKey = ed25519WrapKey(x25519.scalarMult(this.#tweak, shared), share, this.#ours);
      const fileKey = openFileKey(wrapKey, stanza.body);
      if (!fileKey) throw new Error("an ssh-ed25519 stanza has this key's tag but does not decrypt with it");
      return fileKey;
    }
    return null;
  }
}

/** tweak = HKDF-SHA-256(ikm = empty, salt = SSH wire-format public key, info = label). */
function ed25519Tweak(wire: Buffer): Buffer {
  return Buffer.from(hkdfSync("sha256", Buffer.alloc(0), wire, ED25519_LABEL, 32));
}

/** wrap key = HKDF-SHA-256(ikm = tweaked shared secret, salt = ephemeral share || recipient, info = label). */
function ed25519WrapKey(secret: Uint8Array, share: Uint8Array, recipient: Uint8Array): Buffer {
  return Buffer.from(hkdfSync("sha256", secret, Buffer.concat([share, recipient]), ED25519_LABEL, 32));
}

/** ChaCha20-Poly1305 with a zero nonce: each wrap key is used exactly once. */
function sealFileKey(wrapKey: Buffer, fileKey: Uint8Array): Buffer {
  const cipher = createCipheriv("chacha20-poly1305", wrapKey, ZERO_NONCE, { authTagLength: 16 });
  return Buffer.concat([cipher.update(fileKey), cipher.final(), cipher.getAuthTag()]);
}

function openFileKey(wrapKey: Buffer, body: Uint8Array): Buffer | null {
  const decipher = createDecipheriv("chacha20-poly1305", wrapKey, ZERO_NONCE, { authTagLength: 16 });
  decipher.setAuthTag(body.subarray(FILE_KEY_SIZE));
  try {
    return Buffer.concat([decipher.update(body.subarray(0, FILE_KEY_SIZE)), decipher.final()]);
  } catch {
    return null;
  }
}
