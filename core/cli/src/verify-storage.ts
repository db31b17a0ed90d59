import { createHash } from "node:crypto";
import { pipeline } from "node:stream/promises";
import { Writable } from "node:stream";
import { buildChain, selectDestinations, loadConfig, ExitCode, errorMessage, type Logger, type ArchiveRef, type Destination } from "@sov/core";

/**
 * `sov verify --storage`: checks every copy in every destination against the checksum written
 * beside it at commit. It needs no identity, so a host can catch a rotting stick weekly while
 * the private key stays in the safe. (A full `sov restore --verify` needs the identity.)
 */
export async function verifyStorage(opts: { configPath?: string | undefined; targets?: string[] | undefined; env: NodeJS.ProcessEnv; log: Logger }): Promise<number> {
  const { log } = opts;
  const config = await loadConfig({ configPath: opts.configPath, env: opts.env, log });
  const selected = selectDestinations(config, opts.targets);
  const run = { host: config.host, startedAt: new Date(), dryRun: false, signal: new AbortController().signal };
  const chain = await buildChain(config, selected, run, log, opts.env);
  let bad = 0;
  let good = 0;
  let unchecked = 0;
  for (const { destination } of chain.destinations) {
    try {
      await destination.open();
    } catch (err) {
      // The weekly unit has no right to mount a stick: an unplugged or unmountable destination
      // that was not asked for by name is reported and skipped; one asked for by name fails.
      if (opts.targets?.length) {
        log.error(`${destination.name}: cannot open: ${errorMessage(err)}`);
        bad++;
      } else {
        log.warn(`${destination.name}: skipped, cannot open: ${errorMessage(err)}`);
      }
      continue;
    }
    try {
      const archives = await destination.list();
      for (const archive of archives) {
        const verdict = await checkOne(destination, archive);
        if (verdict === "ok") good++;
        else if (verdict === "no checksum") unchecked++;
        else bad++;
        const line = `${destination.name}: ${archive.name}: ${verdict}${lockNote(archive, new Date())}`;
        if (verdict === "ok") log.info(line);
        else if (verdict === "no checksum") log.warn(`${line} (written before checksums, or by the bash tool)`);
        else log.error(line);
      }
    } catch (err) {
      log.error(`${destination.name}: ${errorMessage(err)}`);
      bad++;
    } finally {
      await destination.close().catch((err) => log.warn(`${destination.name}: close failed: ${errorMessage(err)}`));
    }
  }
  log.info(`verify --storage: ${good} intact, ${bad} damaged or unreadable, ${unchecked} without a checksum`);
  return bad > 0 ? ExitCode.failed : ExitCode.ok;
}

/** An Object Lock retention, as the store reported it: the archive cannot be deleted before then. */
export function lockNote(archive: ArchiveRef, now: Date): string {
  const until = archive.lockedUntil;
  if (!until) return "";
  return until > now ? `, locked until ${until.toISOString()}` : `, lock expired ${until.toISOString()}`;
}

async function checkOne(destination: Destination, archive: ArchiveRef): Promise<string> {
  const expected = await destination.readChecksum?.(archive);
  if (!expected) return "no checksum";
  const hash = createHash("sha256");
  let size = 0;
  try {
    await pipeline(
      destination.read(archive),
      new Writable({
        write(chunk: Buffer, _enc, cb) {
          hash.update(chunk);
          size += chunk.length;
          cb();
        },
      }),
    );
  } catch (err) {
    return `UNREADABLE (${errorMessage(err)})`;
  }
  const actual = hash.digest("hex");
  return actual === expected ? "ok" : `CHECKSUM MISMATCH (${size} bytes read; the copy is damaged)`;
}
