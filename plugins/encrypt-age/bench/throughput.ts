/**
 * Hand-run throughput check (not a test): seals 512 MiB from memory through the encrypt
 * Transform, then opens it again, and prints MB/s for each.
 *
 *   npx tsc -b plugins/encrypt-age && node plugins/encrypt-age/dist/bench/throughput.js [MiB]
 */
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable, Writable, type Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { silentLogger } from "@sov/core";
import { Encrypter, generateX25519Identity, identityToRecipient } from "age-encryption";
import { createDecryptStream, createEncryptStream } from "../src/index.js";

const MIB = 1024 * 1024;
const totalMiB = Number(process.argv[2] ?? 512);
const ROUNDS = 3;

/** `count` writes of `block` (the same memory every time: this measures the cipher, not RAM). */
function source(block: Buffer, count: number): Readable {
  let sent = 0;
  return new Readable({
    read() {
      this.push(sent++ < count ? block : null);
    },
  });
}

/** Discards what it gets, or keeps it in `keep`. */
function sink(keep?: Buffer[]): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, callback) {
      keep?.push(chunk);
      callback();
    },
  });
}

/**
 * Runs `run` ROUNDS times and prints the best and median wall-clock rate, and the best rate per
 * CPU-second of this process (less skewed when other work shares the machine).
 */
async function timed(label: string, bytes: number, run: () => Promise<void>): Promise<void> {
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const start = process.hrtime.bigint();
    const cpuStart = process.cpuUsage();
    await run();
    const used = process.cpuUsage(cpuStart);
    wall.push(bytes / 1e6 / (Number(process.hrtime.bigint() - start) / 1e9));
    cpu.push(bytes / 1e6 / ((used.user + used.system) / 1e6));
  }
  const best = (rates: number[]) => Math.max(...rates);
  const median = (rates: number[]) => [...rates].sort((a, b) => a - b)[Math.floor(rates.length / 2)]!;
  const mbs = (rate: number) => `${rate.toFixed(0).padStart(5)} MB/s`;
  console.log(`${label.padEnd(44)} best ${mbs(best(wall))}, median ${mbs(median(wall))}, per CPU-second ${mbs(best(cpu))}`);
}

const identity = await generateX25519Identity();
const recipient = await identityToRecipient(identity);
const dir = mkdtempSync(join(tmpdir(), "sov-age-bench-"));
const identityFile = join(dir, "key.txt");
writeFileSync(identityFile, `${identity}\n`);

try {
  console.log(`node ${process.version}, ${totalMiB} MiB per round, ${ROUNDS} rounds`);
  for (const writeSize of [64 * 1024, MIB]) {
    const block = randomBytes(writeSize);
    const count = (totalMiB * MIB) / writeSize;
    await timed(`encrypt, ${writeSize / 1024} KiB writes`, totalMiB * MIB, async () => {
      await pipeline(source(block, count), await createEncryptStream([recipient]), sink());
    });
  }

  // Decrypt: a 64 MiB archive from memory, read again until the total is reached.
  const archiveMiB = Math.min(64, totalMiB);
  const archive: Buffer[] = [];
  await pipeline(source(randomBytes(MIB), archiveMiB), await createEncryptStream([recipient]), sink(archive));
  const sealed = Buffer.concat(archive);
  const rounds = Math.max(1, Math.round(totalMiB / archiveMiB));
  await timed("decrypt, 64 KiB reads", rounds * archiveMiB * MIB, async () => {
    for (let i = 0; i < rounds; i++) {
      const decoder: Transform = await createDecryptStream({ identityFile, log: silentLogger() });
      const reads = Math.ceil(sealed.length / (64 * 1024));
      await pipeline(Readable.from(Array.from({ length: reads }, (_, j) => sealed.subarray(j * 65536, (j + 1) * 65536))), decoder, sink());
    }
  });

  // For comparison: age-encryption's own (pure JS) streaming encryption.
  const jsMiB = Math.min(64, totalMiB);
  const encrypter = new Encrypter();
  encrypter.addRecipient(recipient);
  const block = randomBytes(MIB);
  await timed("age-encryption streaming encrypt (pure JS)", jsMiB * MIB, async () => {
    const input = Readable.toWeb(source(block, jsMiB)) as ReadableStream<Uint8Array>;
    const output = await encrypter.encrypt(input);
    for await (const _ of output as unknown as AsyncIterable<Uint8Array>);
  });
} finally {
  rmSync(dir, { recursive: true, force: true });
}
