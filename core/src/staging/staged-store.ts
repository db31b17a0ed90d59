import type { Readable, Writable } from "node:stream";
import { finished } from "node:stream/promises";
import { parseArchiveName, withSequence } from "../archive-name.js";
import { errorMessage } from "../errors.js";
import type { Logger } from "../log.js";
import type { ArchiveMeta, ArchiveRef, Destination, StagedWrite } from "../plugin.js";
import { isProcessAlive } from "../process-info.js";
import type { ArchiveStore, ByteRange, ObjectUpload, ObjectWrite, StoredObject } from "../storage.js";
import { checksumLine, MAX_SIDECAR_BYTES, parseChecksumLine, sidecarName } from "./checksum-sidecar.js";
import { checkStoreShape, ContractViolation, isNameTaken } from "./contract-violation.js";
import { parseTemporaryName, randomSuffix, temporaryName, THIS_MACHINE } from "./temporary-name.js";

/** How many `-N` names a commit tries before giving up. */
const MAX_SEQUENCE = 1000;
/** Fresh temporary names tried when one is taken (planted) before giving up. */
const TEMPORARY_ATTEMPTS = 8;

export interface StagingOptions {
  /** The plugin package that provided the store: every contract error names it. */
  readonly plugin: string;
  readonly log: Logger;
  /** This run's host: only incomplete uploads of its own archives are aborted. */
  readonly host?: string;
  /** Incomplete uploads begun before this instant are abandoned (the run's lock time); unknown: keep them. */
  readonly uploadsAbandonedBefore?: () => Date | undefined;
  /** For tests: the machine and random part of temporary names. */
  readonly machine?: string;
  readonly randomSuffix?: () => string;
}

/**
 * The core's one staging implementation, over any `ArchiveStore`: it decides temporary and
 * final names, checks lengths, publishes without replacing (`-N` names), keeps the checksum
 * sidecar, removes abandoned temporaries, hides temporaries and sidecars from listings, and
 * checks at run time that the store kept the contract. To the run it is a `Destination`.
 */
export class StagedStore implements Destination {
  private readonly machine: string;
  private readonly random: () => string;

  constructor(
    readonly store: ArchiveStore,
    private readonly opts: StagingOptions,
  ) {
    checkStoreShape(store, opts.plugin);
    this.machine = opts.machine ?? THIS_MACHINE;
    this.random = opts.randomSuffix ?? randomSuffix;
  }

  get name(): string {
    return this.store.name;
  }

  get plugin(): string {
    return this.opts.plugin;
  }

  describe(): string[] {
    return this.store.describe();
  }

  /** Opens the store, then removes what interrupted runs of this machine left behind. */
  async open(): Promise<void> {
    await this.store.open();
    try {
      await this.removeAbandoned();
    } catch (err) {
      this.opts.log.warn(`could not look for temporaries left by interrupted runs: ${errorMessage(err)}`);
    }
  }

  close(): Promise<void> {
    return this.store.close();
  }

  /** Archives only: temporaries, sidecars and foreign objects are never listed. */
  async list(): Promise<ArchiveRef[]> {
    const objects = await this.store.list();
    return objects.filter((o) => parseArchiveName(o.name)).map((o) => this.ref(o));
  }

  read(archive: ArchiveRef): Readable {
    requireArchiveName(archive.name);
    return this.store.read(archive.name);
  }

  readRange(archive: ArchiveRef, range: ByteRange): Readable {
    requireArchiveName(archive.name);
    return this.store.read(archive.name, range);
  }

  /** Removes an archive and its sidecar. Prune skips objects still locked before it gets here. */
  async remove(archive: ArchiveRef): Promise<void> {
    requireArchiveName(archive.name);
    await this.store.remove(archive.name);
    await this.store.remove(sidecarName(archive.name)).catch((err) => {
      this.opts.log.warn(`could not remove ${sidecarName(archive.name)}: ${errorMessage(err)}`);
    });
  }

  async readChecksum(archive: ArchiveRef): Promise<string | null> {
    requireArchiveName(archive.name);
    const name = sidecarName(archive.name);
    const found = await this.store.stat(name);
    if (!found || found.size > MAX_SIDECAR_BYTES) return null;
    const chunks: Buffer[] = [];
    for await (const chunk of this.store.read(name, { start: 0, end: found.size })) chunks.push(Buffer.from(chunk as Uint8Array));
    return parseChecksumLine(Buffer.concat(chunks).toString("utf8"));
  }

  async stage(archiveName: string): Promise<StagedWrite> {
    requireArchiveName(archiveName);
    if (this.store.features.publish === "upload") {
      const finalName = await this.freeName(archiveName);
      return new UploadStaging(this, finalName, await this.store.beginUpload!(finalName));
    }
    const absentAtStage = (await this.store.stat(archiveName)) === null;
    const { temporary, write } = await this.createTemporary(archiveName);
    return new RenameStaging(this, archiveName, temporary, write, absentAtStage);
  }

  // ---- the steps the staged writes share ----

  violation(what: string): ContractViolation {
    return new ContractViolation(this.opts.plugin, this.name, what);
  }

  ref(object: StoredObject): ArchiveRef {
    return {
      destination: this.name,
      name: object.name,
      location: object.location,
      size: object.size,
      ...(object.lockedUntil ? { lockedUntil: object.lockedUntil } : {}),
    };
  }

  /** An exclusive temporary for `finalName`; a name planted in advance is skipped, never used. */
  async createTemporary(finalName: string): Promise<{ temporary: string; write: ObjectWrite }> {
    for (let attempt = 0; attempt < TEMPORARY_ATTEMPTS; attempt++) {
      const temporary = temporaryName(finalName, this.machine, process.pid, this.random());
      try {
        return { temporary, write: await this.store.writeTemporary!(temporary) };
      } catch (err) {
        if (!isNameTaken(err)) throw err;
        this.opts.log.warn(`${temporary} exists already (planted?); not touching it, trying another name`);
      }
    }
    throw new Error(`could not create a temporary object for ${finalName}: ${TEMPORARY_ATTEMPTS} names were taken`);
  }

  /** The first of `name`, `name-1`, ... that the store does not hold (upload stores pick it up front). */
  async freeName(name: string): Promise<string> {
    for (let sequence = 0; sequence < MAX_SEQUENCE; sequence++) {
      const candidate = sequence === 0 ? name : withSequence(name, sequence);
      if ((await this.store.stat(candidate)) === null) return candidate;
    }
    throw new Error(`no free archive name for ${name} in destination ${this.name}`);
  }

  /** The temporary holds exactly what was written, as the store and the core count it. */
  async checkLength(temporary: string, acknowledged: number, sent: number | undefined): Promise<void> {
    if (sent !== undefined && sent !== acknowledged) {
      throw this.violation(`its writable acknowledged ${acknowledged} bytes of ${temporary}, the core wrote ${sent}`);
    }
    const found = await this.store.stat(temporary);
    if (!found) throw new Error(`the temporary ${temporary} is gone before it was published (was the storage changed under the run?)`);
    if (found.size !== acknowledged) throw new Error(`${temporary} holds ${found.size} bytes, ${acknowledged} were written`);
  }

  /** Nothing may appear under a final name before the core publishes it. */
  async requireUnpublished(finalName: string): Promise<void> {
    if ((await this.store.stat(finalName)) !== null) {
      throw this.violation(`${finalName} appeared under its final name before the core published it (it was absent when the write began)`);
    }
  }

  /** Publishes under `name`, or `name-N` when taken; returns the name it got. */
  async publishFree(temporary: string, name: string): Promise<string> {
    for (let sequence = 0; sequence < MAX_SEQUENCE; sequence++) {
      const candidate = sequence === 0 ? name : withSequence(name, sequence);
      try {
        await this.store.publish!(temporary, candidate);
      } catch (err) {
        if (isNameTaken(err)) continue;
        throw err;
      }
      if (candidate !== name) this.opts.log.warn(`${name} exists already; wrote ${candidate}`);
      return candidate;
    }
    throw new Error(`no free archive name for ${name} in destination ${this.name}`);
  }

  /** After publish: listed and stat'ed at exactly the size written, the temporary gone. */
  async checkPublished(finalName: string, size: number, temporary?: string): Promise<StoredObject> {
    const found = await this.store.stat(finalName);
    if (!found) throw this.violation(`${finalName} is not there after it was published`);
    if (found.size !== size) throw this.violation(`${finalName} is ${found.size} bytes after publish, ${size} were written`);
    const listed = await this.store.list();
    const entry = listed.find((o) => o.name === finalName);
    if (!entry || entry.size !== size) throw this.violation(`list() ${entry ? `shows ${finalName} at ${entry.size} bytes, ${size} were written` : `does not show ${finalName} after publish`}`);
    if (temporary && listed.some((o) => o.name === temporary)) throw this.violation(`publish() left the temporary ${temporary} in place`);
    return found;
  }

  /** After an abort that reported success: neither the final name nor the temporary is listed. */
  async checkNothingLeft(finalName: string | undefined, temporary: string | undefined): Promise<void> {
    const listed = await this.store.list().catch(() => null);
    if (!listed) return; // the store is unreachable: the next run cleans up
    if (finalName && listed.some((o) => o.name === finalName)) throw this.violation(`${finalName} is listed under its final name after abort`);
    if (temporary && listed.some((o) => o.name === temporary)) throw this.violation(`the temporary ${temporary} is still listed after abort`);
  }

  /**
   * The `<archive>.sha256` sidecar, written through the same staging as the archive. A stale
   * sidecar (or anything planted) under its name is removed, never written through, and tried
   * once more; a sidecar that cannot be written is a warning: the archive is already published.
   */
  async writeSidecar(archiveName: string, sha256: string): Promise<void> {
    const name = sidecarName(archiveName);
    const body = Buffer.from(checksumLine(sha256, archiveName));
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await this.writeSmallObject(name, body);
        return;
      } catch (err) {
        if (isNameTaken(err) && attempt === 0) {
          this.opts.log.warn(`${name} exists already (left from an older archive?); replacing it`);
          await this.store.remove(name).catch(() => {});
          continue;
        }
        this.opts.log.warn(`could not write ${name}: ${errorMessage(err)}; sov verify --storage cannot check this copy`);
        return;
      }
    }
  }

  private async writeSmallObject(name: string, body: Buffer): Promise<void> {
    if (this.store.features.publish === "upload") {
      const upload = await this.store.beginUpload!(name);
      try {
        await endWith(upload.writable, body);
        await upload.complete();
      } catch (err) {
        await upload.discard().catch(() => {});
        throw err;
      }
      return;
    }
    const { temporary, write } = await this.createTemporary(name);
    try {
      await endWith(write.writable, body);
      await this.checkLength(temporary, write.writable.bytesWritten, body.length);
      await this.store.publish!(temporary, name);
    } catch (err) {
      await write.discard().catch(() => {});
      throw err;
    }
  }

  /** Temporaries of this machine whose writer is gone, and old incomplete uploads of this host. */
  private async removeAbandoned(): Promise<void> {
    for (const object of await this.store.list()) {
      const t = parseTemporaryName(object.name);
      if (!t || t.machine !== this.machine || t.pid === process.pid || isProcessAlive(t.pid)) continue;
      await this.store.remove(object.name).then(
        () => this.opts.log.warn(`removed ${object.name}, left by an interrupted run`),
        (err) => this.opts.log.warn(`could not remove ${object.name}, left by an interrupted run: ${errorMessage(err)}`),
      );
    }
    const before = this.opts.uploadsAbandonedBefore?.();
    if (!before || !this.store.listIncompleteUploads) return;
    for (const upload of await this.store.listIncompleteUploads()) {
      const archive = upload.name.endsWith(".sha256") ? upload.name.slice(0, -".sha256".length) : upload.name;
      if (upload.startedAt >= before || (this.opts.host && parseArchiveName(archive)?.host !== this.opts.host)) continue;
      await upload.abort().then(
        () => this.opts.log.warn(`aborted the upload of ${upload.name} begun ${upload.startedAt.toISOString()}, left by an interrupted run`),
        (err) => this.opts.log.warn(`could not abort the incomplete upload of ${upload.name}: ${errorMessage(err)}`),
      );
    }
  }
}

/** Rename stores: a temporary object until commit publishes it under a free final name. */
class RenameStaging implements StagedWrite {
  private settled = false;

  constructor(
    private readonly owner: StagedStore,
    private readonly archiveName: string,
    private readonly temporary: string,
    private readonly write: ObjectWrite,
    /** Only a name that was free when the write began can be said to have been published early. */
    private readonly absentAtStage: boolean,
  ) {}

  get writable(): Writable {
    return this.write.writable;
  }

  async commit(meta?: ArchiveMeta): Promise<ArchiveRef> {
    if (this.settled) throw new Error(`${this.archiveName} was already committed or aborted`);
    this.settled = true;
    const { owner } = this;
    try {
      if (!this.write.writable.writableFinished) throw new Error("commit before the stream finished");
      const size = this.write.writable.bytesWritten;
      await owner.checkLength(this.temporary, size, meta?.size);
      if (this.absentAtStage) await owner.requireUnpublished(this.archiveName);
      const finalName = await owner.publishFree(this.temporary, this.archiveName);
      const published = await owner.checkPublished(finalName, size, this.temporary);
      if (meta?.sha256) await owner.writeSidecar(finalName, meta.sha256);
      return owner.ref(published);
    } catch (err) {
      await this.write.discard().catch(() => {});
      throw err;
    }
  }

  async abort(): Promise<void> {
    if (this.settled) return;
    this.settled = true;
    try {
      await this.write.discard();
    } catch (err) {
      throw new Error(`could not remove the temporary ${this.temporary}: ${errorMessage(err)}; the next run removes it`);
    }
    await this.owner.checkNothingLeft(this.absentAtStage ? this.archiveName : undefined, this.temporary);
  }
}

/** Upload stores: nothing is visible until `complete()`; no rename is faked. */
class UploadStaging implements StagedWrite {
  private settled = false;

  constructor(
    private readonly owner: StagedStore,
    private readonly finalName: string,
    private readonly upload: ObjectUpload,
  ) {}

  get writable(): Writable {
    return this.upload.writable;
  }

  async commit(meta?: ArchiveMeta): Promise<ArchiveRef> {
    if (this.settled) throw new Error(`${this.finalName} was already committed or aborted`);
    this.settled = true;
    const { owner } = this;
    try {
      if (!this.upload.writable.writableFinished) throw new Error("commit before the stream finished");
      const size = this.upload.writable.bytesWritten;
      if (meta?.size !== undefined && meta.size !== size) {
        throw owner.violation(`its upload acknowledged ${size} bytes of ${this.finalName}, the core wrote ${meta.size}`);
      }
      await owner.requireUnpublished(this.finalName);
      await this.upload.complete();
      const published = await owner.checkPublished(this.finalName, size);
      if (meta?.sha256) await owner.writeSidecar(this.finalName, meta.sha256);
      return owner.ref(published);
    } catch (err) {
      await this.upload.discard().catch(() => {});
      throw err;
    }
  }

  async abort(): Promise<void> {
    if (this.settled) return;
    this.settled = true;
    await this.upload.discard().catch((err) => {
      throw new Error(`could not abort the upload of ${this.finalName}: ${errorMessage(err)}; the next run aborts it`);
    });
    await this.owner.checkNothingLeft(this.finalName, undefined);
  }
}

function requireArchiveName(name: string): void {
  if (!parseArchiveName(name) || name.includes("/")) throw new Error(`refusing ${JSON.stringify(name)}: not an archive name`);
}

async function endWith(writable: Writable, body: Buffer): Promise<void> {
  writable.end(body);
  await finished(writable);
}
