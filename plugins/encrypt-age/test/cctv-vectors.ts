/**
 * The C2SP CCTV age vectors (https://c2sp.org/CCTV/age) from the npm package `cctv-age`, parsed
 * once for every test that runs them.
 */
import { inflateSync } from "node:zlib";
import * as vectors from "cctv-age";

export interface Vector {
  readonly name: string;
  readonly expect: string;
  readonly payload: string | undefined;
  readonly identities: string[];
  readonly file: Buffer;
  /** Why the decoder does not apply, if it does not. */
  readonly unsupported: string | undefined;
}

function parseVector(name: string, data: Uint8Array): Vector {
  const bytes = Buffer.from(data);
  const split = bytes.indexOf("\n\n");
  const fields = new Map<string, string[]>();
  for (const line of bytes.subarray(0, split).toString("utf8").split("\n")) {
    const at = line.indexOf(": ");
    const key = line.slice(0, at);
    fields.set(key, [...(fields.get(key) ?? []), line.slice(at + 2)]);
  }
  let file = bytes.subarray(split + 2);
  if (fields.get("compressed")?.[0] === "zlib") file = inflateSync(file);
  const known = new Set(["expect", "payload", "identity", "passphrase", "armored", "compressed", "file key", "comment"]);
  const unknownKey = [...fields.keys()].find((k) => !known.has(k));
  const unsupported = fields.has("armored")
    ? "armored"
    : fields.has("passphrase")
      ? "passphrase"
      : unknownKey
        ? `unknown key ${unknownKey}`
        : undefined;
  return {
    name,
    expect: fields.get("expect")![0]!,
    payload: fields.get("payload")?.[0],
    identities: fields.get("identity") ?? [],
    file,
    unsupported,
  };
}

/** Every vector of the package, parsed; `unsupported` says which ones no decoder here applies. */
export function cctvVectors(): Vector[] {
  return Object.entries(vectors as Record<string, unknown>)
    .filter((entry): entry is [string, Uint8Array] => entry[1] instanceof Uint8Array)
    .map(([name, data]) => parseVector(name, data));
}
