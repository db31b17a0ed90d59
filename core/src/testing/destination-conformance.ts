import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import { once } from "node:events";
import type { Readable, Writable } from "node:stream";
import { finished } from "node:stream/promises";
import { describe, it } from "node:test";
import { archiveName, parseArchiveName } from "../archive-name.js";
import { errorMessage } from "../errors.js";
import type { ArchiveRef, Destination, StagedWrite } from "../plugin.js";
import { isArchiveStore, isNameTaken, StagedStore } from "../staging/index.js";
import type { ArchiveStore } from "../storage.js";
import { createRecordingLogger } from "./plugin-harness.js";

/** What a check tells `makeDestination`, so each check can get its own empty store. */
export interface ConformanceCheckInfo {
  /** The check's title, e.g. `a staged write is invisible until commit`. */
  readonly check: string;
  /** 0, 1, 2, ...: unique per check, handy for a fresh directory name. */
  readonly index: number;
}

/**
 * A side door into the storage behind a destination, bypassing the plugin. With it the kit can
 * check what `list()` cannot show (temporary files, final names) and plant foreign files.
 * Without it those parts are skipped and say so.
 */
export interface RawStorage {
  /** Every entry name in the archive directory, temporary files included. */
  names(): Promise<string[]>;
  /** Writes a file under `name` directly (for the "list() ignores other files" check). */
  put(name: string, data: Uint8Array): Promise<void>;
}

export interface DestinationConformanceOptions {
  /**
   * The raw storage of the destination `makeDestination` returned for `info`; called after
   * `makeDestination`. Strongly advised: most "nothing under a final name" checks use it.
   */
  raw?: (info: ConformanceCheckInfo) => RawStorage;
  /** The host in the archive names the checks write. Default `conformance`. */
  host?: string;
  /** Bytes in the large round-trip archive. Default 3 MiB. */
  largeBytes?: number;
  /** Per check, in milliseconds. Default 60 000. */
  timeoutMs?: number;
  /** Checks to leave out, by title, each with the reason (shown as a skip). */
  skip?: Readonly<Record<string, string>>;
}

/** One conformance check, runnable with any test runner. */
export interface ConformanceCheck {
  readonly title: string;
  /** Set when the check cannot run with the options given; the reason is shown. */
  readonly skip?: string;
  run(): Promise<void>;
}

/** A destination as sov gets it: an `ArchiveStore` (the core's staging is put around it) or a 0.1 `Destination`. */
type MakeDestination = (info: ConformanceCheckInfo) => Promise<Destination | ArchiveStore>;

/**
 * Registers the destination conformance suite with node:test: one `describe(label)` holding one
 * `it()` per check. Call it at the top level of a test file:
 *
 *   destinationConformance("my-dest", async ({ index }) => destinationFromPlugin(plugin, { path: dirFor(index) }, { instance: "mine" }), {
 *     raw: ({ index }) => ({ names: () => readdir(dirFor(index)), put: (n, d) => writeFile(join(dirFor(index), n), d) }),
 *   });
 *
 * Every check calls `makeDestination` once, then `open()`, and always `close()` at the end.
 * `makeDestination` must return a destination over an EMPTY store (a fresh directory).
 */
export function destinationConformance(label: string, makeDestination: MakeDestination, opts: DestinationConformanceOptions = {}): void {
  const checks = destinationChecks(makeDestination, opts);
  const timeout = opts.timeoutMs ?? 60_000;
  describe(`destination conformance: ${label}`, () => {
    for (const check of checks) {
      it(check.title, { timeout, ...(check.skip ? { skip: check.skip } : {}) }, () => check.run());
    }
  });
}

/** The same checks as plain objects, for authors who use another runner (`for (const c of checks) test(c.title, c.run)`). */
export function destinationChecks(makeDestination: MakeDestination, opts: DestinationConformanceOptions = {}): ConformanceCheck[] {
  const host = opts.host ?? "conformance";
  const largeBytes = opts.largeBytes ?? 3 * 1024 * 1024;
  const definitions: Array<{ title: string; needsRaw?: "names" | "put"; needsStore?: boolean; body: (k: Kit) => Promise<void> }> = [
    { title: "open() then close() is safe; describe() gives lines; an empty store lists nothing", body: checkOpenClose },
    { title: "a staged write is invisible until commit, then listed with its size and read back byte-identical", body: (k) => checkStagedRoundTrip(k, largeBytes) },
    { title: "committing the same name twice never overwrites: the second gets a -N name", body: checkNoOverwrite },
    { title: "abort() before the stream ended leaves nothing behind", body: (k) => checkAbort(k, false) },
    { title: "abort() after the stream ended leaves nothing behind", body: (k) => checkAbort(k, true) },
    { title: "commit() before the stream ended is refused and publishes nothing", body: checkEarlyCommit },
    { title: "a settled write stays settled: abort() after commit() keeps the archive, a second commit() is refused", body: checkSettled },
    { title: "remove() deletes exactly the archive given", body: checkRemove },
    { title: "commit(meta) keeps the checksum beside the archive where readChecksum() finds it; remove() takes both", body: checkChecksum },
    { title: "list() shows archives of every host and nothing else (no temp files, no other names)", body: checkListFilters },
    { title: "list() ignores foreign files planted in the store", needsRaw: "put", body: checkForeignFiles },
    { title: "names that are not archive names are refused by stage() and remove()", body: checkNameSafety },
    { title: "read() of an archive that does not exist fails instead of hanging", body: checkReadMissing },
    { title: "store: stat() is null for a missing object, remove() of one resolves, read() returns exact byte ranges", needsStore: true, body: checkStorePrimitives },
    { title: "store: writeTemporary() is exclusive and publish() never replaces (NameTakenError)", needsStore: true, body: checkStoreNoReplace },
  ];
  return definitions.map((def, index) => {
    const info: ConformanceCheckInfo = { check: def.title, index };
    const skip = opts.skip?.[def.title] ?? (def.needsRaw && !opts.raw ? "needs opts.raw (a side door into the storage)" : undefined);
    return {
      title: def.title,
      ...(skip ? { skip } : {}),
      run: async () => {
        const made = await makeDestination(info);
        const destination = isArchiveStore(made) ? new StagedStore(made, { plugin: "conformance", log: createRecordingLogger() }) : made;
        const store = destination instanceof StagedStore ? destination.store : undefined;
        if (def.needsStore && !store) return; // a 0.1 Destination has no store primitives to check
        const raw = opts.raw?.(info);
        const kit = new Kit(destination, raw, host, index, store);
        await destination.open();
        try {
          await kit.expectEmpty("before the check (makeDestination must give an empty store)");
          await def.body(kit);
        } finally {
          await destination.close();
        }
      },
    };
  });
}

/** Shared helpers for one check: a destination, its raw storage, fresh archive names. */
class Kit {
  private names = 0;
  constructor(
    readonly d: Destination,
    readonly raw: RawStorage | undefined,
    readonly host: string,
    private readonly index: number,
    readonly store: ArchiveStore | undefined,
  ) {}

  /** A fresh, valid archive name: a distinct timestamp per check and per call. */
  name(host = this.host): string {
    const when = new Date(2031, 0, 1 + this.index, 2, 0, this.names++);
    return archiveName(host, when, "zst", "age");
  }

  async list(): Promise<ArchiveRef[]> {
    const refs = await this.d.list();
    assert.ok(Array.isArray(refs), "list() must resolve to an array");
    return refs;
  }

  async listedNames(): Promise<string[]> {
    return (await this.list()).map((r) => r.name).sort();
  }

  async rawNames(): Promise<string[] | null> {
    return this.raw ? (await this.raw.names()).sort() : null;
  }

  async expectEmpty(when: string): Promise<void> {
    assert.deepEqual(await this.listedNames(), [], `list() must be empty ${when}`);
    const raw = await this.rawNames();
    if (raw) assert.deepEqual(raw, [], `the storage must hold nothing ${when}`);
  }

  /** Stages `name`, writes `data` the way the core's fan-out does, optionally ends the stream. */
  async stageAndWrite(name: string, data: Buffer, opts: { end?: boolean; chunks?: number[] } = {}): Promise<StagedWrite> {
    const staged = await this.d.stage(name);
    assert.ok(staged && typeof staged.commit === "function" && typeof staged.abort === "function", "stage() must resolve to a StagedWrite");
    assert.ok(staged.writable && typeof staged.writable.write === "function", "StagedWrite.writable must be a Writable");
    // Like the core's fan-out: an error on the writable is observed, never left unhandled.
    staged.writable.on("error", () => {});
    await writeChunks(staged.writable, data, opts.chunks ?? [data.length]);
    if (opts.end ?? true) {
      staged.writable.end();
      await finished(staged.writable);
    }
    return staged;
  }

  async commitBytes(name: string, data: Buffer): Promise<ArchiveRef> {
    const staged = await this.stageAndWrite(name, data);
    return staged.commit();
  }

  async readAll(ref: ArchiveRef): Promise<Buffer> {
    return collect(this.d.read(ref), `read(${ref.name})`);
  }
}

/** Writes `data` in pieces of the given sizes (cycled), waiting for 'drain' like the core does. */
async function writeChunks(writable: Writable, data: Buffer, sizes: number[]): Promise<void> {
  let failure: Error | undefined;
  const onError = (err: Error) => (failure = err);
  writable.on("error", onError);
  try {
    let offset = 0;
    for (let i = 0; offset < data.length; i++) {
      const size = Math.max(1, sizes[i % sizes.length]!);
      const chunk = data.subarray(offset, offset + size);
      offset += chunk.length;
      if (!writable.write(chunk)) await Promise.race([once(writable, "drain"), once(writable, "close")]);
      if (failure) throw failure;
    }
  } finally {
    writable.off("error", onError);
  }
  if (failure) throw failure;
}

function collect(stream: Readable, what: string): Promise<Buffer> {
  assert.ok(stream && typeof stream.on === "function", `${what} must return a Readable`);
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    stream.on("data", (c: Buffer) => parts.push(Buffer.from(c)));
    stream.once("error", reject);
    stream.once("end", () => resolve(Buffer.concat(parts)));
  });
}

function assertSameBytes(actual: Buffer, expected: Buffer, what: string): void {
  if (actual.equals(expected)) return;
  let at = 0;
  while (at < Math.min(actual.length, expected.length) && actual[at] === expected[at]) at++;
  assert.fail(`${what}: ${actual.length} bytes, expected ${expected.length}; first difference at byte ${at}`);
}

async function rejects(promise: Promise<unknown>, what: string): Promise<void> {
  try {
    await promise;
  } catch {
    return;
  }
  assert.fail(`${what} must be refused (reject), but it resolved`);
}

async function checkOpenClose(k: Kit): Promise<void> {
  assert.equal(typeof k.d.name, "string");
  assert.ok(k.d.name.length > 0, "a destination needs a name");
  const lines = k.d.describe();
  assert.ok(Array.isArray(lines) && lines.every((l) => typeof l === "string"), "describe() must return string[]");
  // The harness closes after the check; nothing else is needed: open() then close() must be safe.
}

async function checkStagedRoundTrip(k: Kit, largeBytes: number): Promise<void> {
  const name = k.name();
  const data = randomBytes(largeBytes);
  // Odd sizes on purpose: 1 byte, a few bytes, a block and a bit, 1 MiB and a bit.
  const staged = await k.stageAndWrite(name, data, { chunks: [1, 7, 65_537, 1_048_579, 13] });
  assert.deepEqual(await k.listedNames(), [], "list() must not show a staged write before commit()");
  const before = await k.rawNames();
  if (before) assert.ok(!before.includes(name), `${name} exists under its final name before commit()`);
  const ref = await staged.commit();
  assert.equal(ref.name, name, "commit() must use the staged name when it is free");
  assert.equal(ref.destination, k.d.name, "ArchiveRef.destination must be the destination's name");
  assert.equal(ref.size, data.length, "ArchiveRef.size must be the bytes written");
  assert.ok(typeof ref.location === "string" && ref.location.length > 0, "ArchiveRef.location must say where it is");
  const listed = await k.list();
  assert.deepEqual(listed.map((r) => r.name), [name], "after commit() list() shows exactly the archive");
  assert.equal(listed[0]!.size, data.length, "list() must report the archive's size");
  assert.equal(listed[0]!.destination, k.d.name);
  assertSameBytes(await k.readAll(listed[0]!), data, "read() after commit()");
  const after = await k.rawNames();
  if (after) assert.deepEqual(after, [name], "after commit() the storage holds the archive and no temporary file");
}

async function checkNoOverwrite(k: Kit): Promise<void> {
  const name = k.name();
  const first = randomBytes(4096);
  const second = randomBytes(5000);
  const a = await k.commitBytes(name, first);
  const b = await k.commitBytes(name, second);
  assert.equal(a.name, name);
  assert.notEqual(b.name, a.name, "a second commit of the same name must not overwrite the first");
  const pa = parseArchiveName(a.name)!;
  const pb = parseArchiveName(b.name);
  assert.ok(pb, `${b.name} must be an archive name`);
  assert.equal(pb.stamp.slice(0, 15), pa.stamp, "the -N name keeps the timestamp");
  assert.ok(pb.sequence >= 1, "the second archive gets a sequence number (-1, -2, ...)");
  assert.equal(pb.host, pa.host);
  assert.equal(b.size, second.length);
  assertSameBytes(await k.readAll(a), first, "the first archive after the second commit");
  assertSameBytes(await k.readAll(b), second, "the second archive");
  assert.deepEqual(await k.listedNames(), [a.name, b.name].sort());
}

async function checkAbort(k: Kit, ended: boolean): Promise<void> {
  const name = k.name();
  const staged = await k.stageAndWrite(name, randomBytes(200_000), { end: ended, chunks: [65_536] });
  await staged.abort();
  await k.expectEmpty("after abort()");
  await staged.abort(); // a second abort() is harmless
}

async function checkEarlyCommit(k: Kit): Promise<void> {
  const name = k.name();
  const staged = await k.stageAndWrite(name, randomBytes(100_000), { end: false });
  await rejects(staged.commit(), "commit() before the stream ended");
  await staged.abort();
  await k.expectEmpty("after a refused commit()");
}

async function checkSettled(k: Kit): Promise<void> {
  const name = k.name();
  const data = randomBytes(1000);
  const staged = await k.stageAndWrite(name, data);
  const ref = await staged.commit();
  await staged.abort();
  assert.deepEqual(await k.listedNames(), [ref.name], "abort() after commit() must keep the archive");
  assertSameBytes(await k.readAll(ref), data, "the archive after a late abort()");
  await rejects(staged.commit(), "a second commit()");
  assert.deepEqual(await k.listedNames(), [ref.name]);
}

async function checkRemove(k: Kit): Promise<void> {
  const keep = await k.commitBytes(k.name(), randomBytes(300));
  const drop = await k.commitBytes(k.name(), randomBytes(400));
  await k.d.remove(drop);
  assert.deepEqual(await k.listedNames(), [keep.name], "remove() deletes the archive given and only that one");
  const raw = await k.rawNames();
  if (raw) assert.deepEqual(raw, [keep.name]);
  assert.equal((await k.readAll(keep)).length, 300);
}

async function checkChecksum(k: Kit): Promise<void> {
  const data = randomBytes(2000);
  const sha256 = createHash("sha256").update(data).digest("hex");
  const staged = await k.stageAndWrite(k.name(), data);
  const ref = await staged.commit({ sha256 });
  const plain = await k.commitBytes(k.name(), randomBytes(10));
  assert.deepEqual(await k.listedNames(), [ref.name, plain.name].sort(), "list() shows archives, never checksum sidecars");
  if (k.d.readChecksum) {
    assert.equal(await k.d.readChecksum(ref), sha256, "readChecksum() returns what commit(meta) was given");
    assert.equal(await k.d.readChecksum(plain), null, "readChecksum() is null for an archive committed without meta");
  }
  await k.d.remove(ref);
  assert.deepEqual(await k.listedNames(), [plain.name]);
  if (k.d.readChecksum) assert.equal(await k.d.readChecksum(ref), null, "remove() takes the checksum too");
  const raw = await k.rawNames();
  if (raw) assert.deepEqual(raw.filter((n) => n.startsWith(ref.name)), [], "nothing of the removed archive remains in the storage");
}

async function checkListFilters(k: Kit): Promise<void> {
  const mine = await k.commitBytes(k.name(), randomBytes(10));
  const theirs = await k.commitBytes(k.name("otherhost"), randomBytes(20));
  const pending = await k.stageAndWrite(k.name(), randomBytes(50_000), { end: false });
  try {
    const listed = await k.list();
    assert.deepEqual(listed.map((r) => r.name).sort(), [mine.name, theirs.name].sort(), "list() shows every host's archives, never a staged write");
    assert.equal(listed.find((r) => r.name === theirs.name)?.size, 20);
  } finally {
    await pending.abort();
  }
}

async function checkForeignFiles(k: Kit): Promise<void> {
  const mine = await k.commitBytes(k.name(), randomBytes(10));
  const foreign = [
    "README.txt",
    `${k.name()}.12345.tmp`,
    `${k.name()}.partial`,
    "sovereign-backup-notes.txt",
    ".hidden",
  ];
  for (const name of foreign) await k.raw!.put(name, Buffer.from("not an archive\n"));
  assert.deepEqual(await k.listedNames(), [mine.name], "list() must ignore temporary files and names that are not archive names");
}

async function checkNameSafety(k: Kit): Promise<void> {
  for (const bad of ["../escape.tar.zst.age", "sub/dir.tar.zst.age", "not-an-archive", `../${k.name()}`, ""]) {
    let staged: StagedWrite | undefined;
    try {
      staged = await k.d.stage(bad);
    } catch {
      continue;
    }
    await staged.abort().catch(() => {});
    assert.fail(`stage(${JSON.stringify(bad)}) must be refused: only archive names are written`);
  }
  const ref: ArchiveRef = { destination: k.d.name, name: "../escape.tar.zst.age", location: "", size: 0 };
  await rejects(k.d.remove(ref), `remove(${ref.name})`);
  await k.expectEmpty("after refused names");
}

async function checkReadMissing(k: Kit): Promise<void> {
  const name = k.name();
  const ref: ArchiveRef = { destination: k.d.name, name, location: "", size: 1 };
  let stream: Readable;
  try {
    stream = k.d.read(ref);
  } catch {
    return; // throwing at once is fine too
  }
  try {
    await collect(stream, `read(${name})`);
  } catch (err) {
    assert.ok(errorMessage(err).length > 0);
    return;
  }
  assert.fail(`read() of the missing ${name} must fail`);
}

async function checkStorePrimitives(k: Kit): Promise<void> {
  const store = k.store!;
  const missing = k.name();
  assert.equal(await store.stat(missing), null, "stat() of a missing object must be null");
  await store.remove(missing); // must resolve
  const data = randomBytes(100_000);
  const ref = await k.commitBytes(k.name(), data);
  const found = await store.stat(ref.name);
  assert.equal(found?.size, data.length, "stat() reports the stored size");
  for (const [start, end] of [[0, 1], [1, 65_537], [99_999, 100_000], [0, 100_000]] as const) {
    assertSameBytes(await collect(store.read(ref.name, { start, end }), `read(${ref.name}, [${start}, ${end}))`), data.subarray(start, end), `read() of [${start}, ${end})`);
  }
}

async function checkStoreNoReplace(k: Kit): Promise<void> {
  const store = k.store!;
  if (store.features.publish !== "rename") return;
  const first = randomBytes(3000);
  const ref = await k.commitBytes(k.name(), first);
  const temporary = `${ref.name}.conformance.1-0.tmp`;
  const write = await store.writeTemporary!(temporary);
  write.writable.on("error", () => {});
  let refused = false;
  try {
    await store.writeTemporary!(temporary);
  } catch (err) {
    refused = !!err;
  }
  assert.ok(refused, "writeTemporary() of a name that exists must fail, not reuse or truncate it");
  write.writable.end(randomBytes(10));
  await finished(write.writable);
  await rejects(store.publish!(temporary, ref.name), "publish() onto an existing archive");
  try {
    await store.publish!(temporary, ref.name);
  } catch (err) {
    assert.ok(isNameTaken(err), `publish() onto an existing name must throw NameTakenError, got: ${errorMessage(err)}`);
  }
  assertSameBytes(await k.readAll(ref), first, "the existing archive after a refused publish()");
  await write.discard();
  assert.deepEqual((await store.list()).map((o) => o.name), [ref.name], "discard() removes the temporary");
}
