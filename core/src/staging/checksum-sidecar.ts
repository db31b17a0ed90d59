/**
 * The checksum kept beside each archive: `<archive>.sha256` in `sha256sum` format, so
 * `sha256sum -c` in the archive directory checks a copy without sov. It never parses as an
 * archive name, so listings leave it out.
 */
export const CHECKSUM_SUFFIX = ".sha256";

/** Sidecars are a line or two; anything bigger is not one of ours. */
export const MAX_SIDECAR_BYTES = 4096;

export function sidecarName(archiveName: string): string {
  return `${archiveName}${CHECKSUM_SUFFIX}`;
}

export function checksumLine(sha256: string, archiveName: string): string {
  return `${sha256}  ${archiveName}\n`;
}

/** The hex digest of a sidecar's text, or null when it does not hold one. */
export function parseChecksumLine(text: string): string | null {
  return /^([0-9a-f]{64}) /.exec(text)?.[1] ?? null;
}
