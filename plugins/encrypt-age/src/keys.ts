import { generateHybridIdentity, generateX25519Identity, identityToRecipient } from "age-encryption";

/** A new age identity (`AGE-SECRET-KEY-1...`) and the recipient archives are encrypted to. */
export interface AgeKeyPair {
  readonly identity: string;
  readonly recipient: string;
}

/**
 * Makes an identity the way `age-keygen` does (`postQuantum`: the ML-KEM-768 + X25519 hybrid,
 * `age-keygen -pq`). `sov keygen` and `sov demo` get their keys here, so the age library stays
 * a dependency of this plugin alone.
 */
export async function generateKeyPair(opts: { postQuantum?: boolean } = {}): Promise<AgeKeyPair> {
  const identity = opts.postQuantum ? await generateHybridIdentity() : await generateX25519Identity();
  return { identity, recipient: await identityToRecipient(identity) };
}
