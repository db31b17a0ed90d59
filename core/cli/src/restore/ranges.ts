/**
 * Archives as RangeReaders, for restores that read only part of an archive: a local file (pread),
 * or an archive in any destination through the storage contract's ranged read (S3 and rclone
 * ranged GETs, SFTP offset reads).
 */
import { open } from "node:fs/promises";
import type { Readable } from "node:stream";
import type { ArchiveRef, Destination, RangeReader } from "@sov/core";

export function fileRange(path: string, size: number): RangeReader {
  return {
    size,
    async read(start, end) {
      checkRange(start, end, size);
      const out = Buffer.allocUnsafe(end - start);
      const file = await open(path, "r");
      try {
        let done = 0;
        while (done < out.length) {
          const { bytesRead } = await file.read(out, done, out.length - done, start + done);
          if (bytesRead === 0) throw new Error(`${path} ended at byte ${start + done}, before the ${size} bytes it had when listed`);
          done += bytesRead;
        }
      } finally {
        await file.close();
      }
      return out;
    },
  };
}

/** A destination's archive, when the destination can read ranges (every ArchiveStore can). */
export function destinationRange(destination: Destination, ref: ArchiveRef): RangeReader | undefined {
  const { readRange } = destination;
  if (!readRange) return undefined;
  return {
    size: ref.size,
    async read(start, end) {
      checkRange(start, end, ref.size);
      if (start === end) return Buffer.alloc(0);
      const bytes = await collect(readRange.call(destination, ref, { start, end }));
      if (bytes.length !== end - start) throw new Error(`${ref.location}: asked for ${end - start} bytes at ${start}, got ${bytes.length}`);
      return bytes;
    },
  };
}

/** The same reader, telling `onRead` how many bytes each read fetched (the progress line). */
export function countedRange(reader: RangeReader, onRead: (bytes: number) => void): RangeReader {
  return {
    size: reader.size,
    async read(start, end) {
      const bytes = await reader.read(start, end);
      onRead(bytes.length);
      return bytes;
    },
  };
}

function checkRange(start: number, end: number, size: number): void {
  if (!(Number.isSafeInteger(start) && Number.isSafeInteger(end) && 0 <= start && start <= end && end <= size)) {
    throw new RangeError(`bytes ${start}-${end} are not inside an archive of ${size} bytes`);
  }
}

async function collect(stream: Readable): Promise<Buffer> {
  const pieces: Buffer[] = [];
  for await (const piece of stream) pieces.push(piece as Buffer);
  return Buffer.concat(pieces);
}
