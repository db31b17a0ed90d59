import { Readable } from "node:stream";
import { buffer } from "node:stream/consumers";
import { pipeline } from "node:stream/promises";
import type { ObjectWrite } from "@sov/core";

/** Streams `data` into a write in 1 MiB chunks, the way the core's fan-out does, and waits for `final`. */
export async function writeAll(write: ObjectWrite, data: Buffer): Promise<void> {
  const chunks: Buffer[] = [];
  for (let at = 0; at < data.length; at += 1 << 20) chunks.push(data.subarray(at, at + (1 << 20)));
  await pipeline(Readable.from(chunks), write.writable);
}

export function readAll(stream: Readable): Promise<Buffer> {
  return buffer(stream);
}
