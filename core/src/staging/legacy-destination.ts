import type { Readable } from "node:stream";
import { parseArchiveName } from "../archive-name.js";
import type { ArchiveMeta, ArchiveRef, Destination, StagedWrite } from "../plugin.js";
import { ContractViolation } from "./contract-violation.js";

/**
 * A destination written for sov 0.1 (`Destination.stage()` returning a `StagedWrite`): it does
 * its own staging, so the core can only check, through `list()`, what it relies on: nothing
 * under the final name before commit, the committed archive listed at the size written, nothing
 * left in the listing after abort. Deprecated; see "Migrating from 0.1" in PLUGINS.md.
 */
export class CheckedLegacyDestination implements Destination {
  /** Present only when the 0.1 destination keeps checksums. */
  readonly readChecksum?: (archive: ArchiveRef) => Promise<string | null>;

  constructor(
    readonly inner: Destination,
    readonly plugin: string,
  ) {
    if (inner.readChecksum) this.readChecksum = (archive) => inner.readChecksum!(archive);
  }

  get name(): string {
    return this.inner.name;
  }

  describe(): string[] {
    return this.inner.describe();
  }

  open(): Promise<void> {
    return this.inner.open();
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  list(): Promise<ArchiveRef[]> {
    return this.inner.list();
  }

  remove(archive: ArchiveRef): Promise<void> {
    return this.inner.remove(archive);
  }

  read(archive: ArchiveRef): Readable {
    return this.inner.read(archive);
  }

  async stage(archiveName: string): Promise<StagedWrite> {
    const absentAtStage = !(await this.inner.list()).some((r) => r.name === archiveName);
    const staged = await this.inner.stage(archiveName);
    return new CheckedStagedWrite(this, staged, archiveName, absentAtStage);
  }

  violation(what: string): ContractViolation {
    return new ContractViolation(this.plugin, this.name, what);
  }
}

class CheckedStagedWrite implements StagedWrite {
  private committed = false;

  constructor(
    private readonly owner: CheckedLegacyDestination,
    private readonly inner: StagedWrite,
    private readonly archiveName: string,
    private readonly absentAtStage: boolean,
  ) {}

  get writable() {
    return this.inner.writable;
  }

  async commit(meta?: ArchiveMeta): Promise<ArchiveRef> {
    const { owner } = this;
    if (this.absentAtStage && (await owner.inner.list()).some((r) => r.name === this.archiveName)) {
      await this.inner.abort().catch(() => {});
      throw owner.violation(`${this.archiveName} was listed under its final name before commit()`);
    }
    const ref = await this.inner.commit(meta);
    this.committed = true;
    const size = meta?.size ?? ref.size;
    const listed = (await owner.inner.list()).find((r) => r.name === ref.name);
    if (!listed) throw owner.violation(`commit() returned ${ref.name}, but list() does not show it`);
    if (listed.size !== size || ref.size !== size) {
      throw owner.violation(`${ref.name} is listed at ${listed.size} bytes (commit() said ${ref.size}); ${size} were written`);
    }
    return ref;
  }

  async abort(): Promise<void> {
    await this.inner.abort();
    if (this.committed) return;
    const listed = await this.owner.inner.list().catch(() => null);
    if (!listed) return;
    if (this.absentAtStage && listed.some((r) => r.name === this.archiveName)) {
      throw this.owner.violation(`${this.archiveName} is listed under its final name after abort()`);
    }
    const foreign = listed.find((r) => !parseArchiveName(r.name));
    if (foreign) throw this.owner.violation(`list() shows ${foreign.name}, which is not an archive name (a temporary?)`);
  }
}
