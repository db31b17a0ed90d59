import { pipeline, type Readable } from "node:stream";
import { parseArchiveName, ConfigError, SovError, errorMessage, loadDecoder, silentLogger, type Logger, type ArchiveDecoder } from "@sov/core";
import { tagStage } from "./stage.js";

/** Finds the decoder for an archive-name suffix; tests substitute one that runs the CLIs. */
export type DecoderLookup = (extension: string) => Promise<ArchiveDecoder>;

export interface ArchiveLayers {
  /** `zst`, `lz4`, `gz`, or null for the bash tool's `.tar.age`. */
  compression: string | null;
  encryption: string;
}

/**
 * How an archive was made, from its name: `sovereign-backup-<host>-<stamp>.tar[.zst].age`, or
 * any other name ending the same way (an archive someone renamed or copied).
 */
export function archiveLayers(fileName: string): ArchiveLayers | null {
  const parsed = parseArchiveName(fileName);
  if (parsed) return { compression: parsed.compression, encryption: parsed.encryption };
  const m = /\.tar(?:\.([a-z0-9]+))?\.([a-z0-9]+)$/.exec(fileName);
  if (!m) return null;
  return { compression: m[1] ?? null, encryption: m[2]! };
}

export interface OpenOptions {
  log?: Logger;
  decoderFor?: DecoderLookup;
  /** Told the size of each chunk of the archive (still encrypted) as it is read: for a progress line. */
  onRead?: (bytes: number) => void;
}

/**
 * The plaintext tar inside an archive: `readable` → decrypt → decompress, with the decoders the
 * compress and encrypt plugins provide (found by the name's suffixes). An error in any layer
 * ends the returned stream with that error, tagged with its stage (see `stageOf`), so a caller
 * can say whether the file, the decryption or the decompression failed.
 */
export async function openArchivePlaintext(
  readable: Readable,
  archiveName: string,
  identityFile: string | undefined,
  options: OpenOptions = {},
): Promise<Readable> {
  const layers = archiveLayers(archiveName);
  if (!layers) {
    readable.on("error", () => {}).destroy();
    throw new ConfigError(`${archiveName}: not an archive name (expected ...tar[.zst|.lz4|.gz].age); cannot tell how to decode it`);
  }
  const lookup = options.decoderFor ?? loadDecoder;
  const log = options.log ?? silentLogger();
  const steps: Array<{ extension: string; stage: string }> = [{ extension: layers.encryption, stage: `decrypting (.${layers.encryption})` }];
  if (layers.compression) steps.push({ extension: layers.compression, stage: `decompressing (.${layers.compression})` });

  const streams: Array<Readable | NodeJS.ReadWriteStream> = [readable];
  readable.prependListener("error", (err) => tagStage(err, `reading ${archiveName}`));
  try {
    for (const step of steps) {
      const decoder = await lookup(step.extension);
      let stream;
      try {
        stream = await decoder.createDecodeStream({ identityFile, log: log.child(step.extension), whole: true });
      } catch (err) {
        if (err instanceof SovError) throw err;
        throw new ConfigError(`${step.stage}: cannot start: ${errorMessage(err)}`, { cause: err });
      }
      stream.prependListener("error", (err) => tagStage(err, step.stage));
      streams.push(stream);
    }
  } catch (err) {
    for (const s of streams) (s as Readable).destroy();
    throw err;
  }
  // The consumer reads the last layer; pipeline destroys it with the first error of any layer,
  // and destroys every layer (closing the file) when the consumer stops early.
  pipeline(streams, () => {});
  // After pipeline() has piped it, a second 'data' listener only watches: it cannot start the
  // stream flowing before the decoders are attached.
  const onRead = options.onRead;
  if (onRead) readable.on("data", (chunk: Buffer) => onRead(chunk.length));
  return streams[streams.length - 1] as Readable;
}
