import { constants as fsc } from "node:fs";
import { lstat, mkdir, open, readdir, realpath, stat, type FileHandle } from "node:fs/promises";
import { basename, dirname, isAbsolute, join, relative } from "node:path";
import type { Readable } from "node:stream";
import { DirectoryStore, type ArchiveStore, type ByteRange, type Logger, type ObjectWrite, type StoredObject, type StoreFeatures } from "@sov/core";
import { findDeviceByLabel, type BlockDevice } from "./device.js";
import { isReadOnly, mountAt, readMountInfo, type MountEntry } from "./mountinfo.js";
import { mountedBySov, removeMountMarker, writeMountMarker } from "./mount-marker.js";
import { MOUNT_OPTIONS, mountDevice, syncFilesystem, unmount } from "./mounter.js";
import type { ResolvedUsbOptions } from "./options.js";
import { explainStickError, stickObjectWrite } from "./stick-write.js";

/** Where the stick's filesystem is reachable for this run, and whether this run mounted it. */
interface Attachment {
  readonly device: BlockDevice;
  /** The directory the stick's root is mounted on. */
  readonly root: string;
  readonly mountedByUs: boolean;
}

/**
 * A USB stick found by filesystem label, as an `ArchiveStore`. `open()` finds it, mounts it (or
 * uses the mount that is already there) and prepares `<mount>/<subdir>`; a DirectoryStore there
 * writes, links and lists; the core stages. What a removable medium adds: errors that say what
 * happened to the stick, no publish once the stick has left its mount point (the link would
 * land on the host's disk), a temporary removed through a directory handle when its path no
 * longer reaches it, and `close()` syncing and unmounting only what `open()` mounted.
 */
export class UsbDestination implements ArchiveStore {
  readonly features: StoreFeatures;
  private attachment: Attachment | undefined;
  private store: DirectoryStore | undefined;
  /** Held while open, so a stick unmounted under the run can still be cleaned; closed before umount. */
  private directory: FileHandle | undefined;

  constructor(
    readonly name: string,
    readonly options: ResolvedUsbOptions,
    private readonly log: Logger,
    /** Where notes of sov's own mounts are kept (see mount-marker.ts). */
    private readonly markerDir: string,
  ) {
    this.features = { publish: "rename", removable: { mountPoint: options.mount }, needsOpen: true };
  }

  describe(): string[] {
    const { label, mount, subdir, fsType } = this.options;
    return [
      `USB stick with filesystem label ${label}`,
      `mounted at ${mount} for the run (-o ${MOUNT_OPTIONS}${fsType ? ` -t ${fsType}` : ""}) unless already mounted`,
      `archives in ${join(mount, subdir)}`,
    ];
  }

  async open(): Promise<void> {
    if (this.attachment) throw new Error(`destination ${this.name} is already open`);
    const device = await findDeviceByLabel(this.options.label);
    this.log.debug(`label ${this.options.label} is ${device.path} (${device.major}:${device.minor})`);
    this.attachment = await this.attach(device);
    try {
      const dir = await this.archiveDirectory(this.attachment.root);
      const store = new DirectoryStore(dir, this.name, this.log);
      await store.open();
      await assertOnStick(dir, this.attachment.root);
      this.directory = await open(dir, fsc.O_RDONLY | fsc.O_DIRECTORY);
      this.store = store;
    } catch (err) {
      // The core calls close() only after a successful open(): undo the mount here.
      await this.close().catch((closeErr: Error) => this.log.warn(closeErr.message));
      throw err;
    }
  }

  list(): Promise<StoredObject[]> {
    return this.openStore().list();
  }

  /** The core stats before it publishes: a stick gone from its mount point stops the commit here. */
  async stat(name: string): Promise<StoredObject | null> {
    const store = this.openStore();
    const gone = await this.goneReason();
    if (gone) throw new Error(`${gone}; nothing was committed on it`);
    return store.stat(name);
  }

  read(name: string, range?: ByteRange): Readable {
    return this.openStore().read(name, range);
  }

  remove(name: string): Promise<void> {
    return this.openStore().remove(name);
  }

  async writeTemporary(temporaryName: string): Promise<ObjectWrite> {
    const write = await this.openStore().writeTemporary(temporaryName).catch((err: unknown) => Promise.reject(explainStickError(err)));
    return stickObjectWrite(write, temporaryName, {
      log: this.log,
      directory: this.directory,
      goneReason: () => this.goneReason(),
    });
  }

  async publish(temporaryName: string, finalName: string): Promise<void> {
    const gone = await this.goneReason();
    if (gone) throw new Error(`${gone}; nothing was committed on it`);
    await this.openStore().publish(temporaryName, finalName).catch((err: unknown) => Promise.reject(explainStickError(err)));
  }

  async close(): Promise<void> {
    const attachment = this.attachment;
    this.attachment = undefined;
    this.store = undefined;
    await this.directory?.close().catch(() => {});
    this.directory = undefined;
    if (!attachment?.mountedByUs) return;
    const { root, device } = attachment;
    const current = mountAt(await readMountInfo(), root);
    if (!current || !isDevice(current, device)) {
      this.log.warn(`${root} is no longer mounted (was the stick pulled out?); nothing to unmount`);
      await removeMountMarker(this.markerDir, root);
      return;
    }
    const synced = await syncFilesystem(root);
    if (!synced.ok) this.log.warn(`sync of ${root} failed: ${synced.message}`);
    const res = await unmount(root, this.log);
    if (!res.ok) {
      throw new Error(`could not unmount ${root}: ${res.message}; it stays mounted: unmount it by hand (umount ${root}) before pulling the stick`);
    }
    await removeMountMarker(this.markerDir, root);
    this.log.info(`unmounted ${root}`);
  }

  /** The stick must still be mounted where open() found it; the mount table says whether it is. */
  private async goneReason(): Promise<string | undefined> {
    const attachment = this.attachment;
    if (!attachment) return `destination ${this.name} is closed`;
    const current = mountAt(await readMountInfo(), attachment.root);
    if (current && isDevice(current, attachment.device)) return undefined;
    return `the stick labelled ${this.options.label} is no longer mounted at ${attachment.root} (unmounted or pulled out during the run)`;
  }

  private openStore(): DirectoryStore {
    if (!this.store) throw new Error(`destination ${this.name} is not open`);
    return this.store;
  }

  /**
   * Uses the stick where it is already mounted (at the mount point, else anywhere), leaving it
   * mounted; otherwise mounts it at the mount point, which must be an empty directory.
   */
  private async attach(device: BlockDevice): Promise<Attachment> {
    const { label, mount } = this.options;
    const stick = `the stick labelled ${label} (${device.path})`;
    const mounts = await readMountInfo();
    const mountPoint = await realPathOfMissing(mount);
    const atMountPoint = mountAt(mounts, mountPoint);

    if (atMountPoint && isDevice(atMountPoint, device)) {
      checkUsable(atMountPoint, stick, this.log);
      const marker = await mountedBySov(this.markerDir, device, mountPoint);
      if (marker && marker.pid !== process.pid && !isAlive(marker.pid)) {
        this.log.warn(`${stick} is still mounted at ${mountPoint} by an interrupted sov run (pid ${marker.pid}); using it and unmounting it at the end`);
        return { device, root: mountPoint, mountedByUs: true };
      }
      this.log.info(`${stick} is already mounted at ${mountPoint}; using it and leaving it mounted`);
      return { device, root: mountPoint, mountedByUs: false };
    }

    const elsewhere = mounts.filter((m) => isDevice(m, device) && m.mountPoint !== mountPoint && mountAt(mounts, m.mountPoint) === m);
    const best = elsewhere.find((m) => m.root === "/" && !isReadOnly(m)) ?? elsewhere.find((m) => !isReadOnly(m)) ?? elsewhere[0];
    if (best) {
      checkUsable(best, stick, this.log);
      this.log.info(`${stick} is mounted at ${best.mountPoint}, not at ${mount}; writing there and leaving it mounted`);
      return { device, root: best.mountPoint, mountedByUs: false };
    }

    if (atMountPoint) {
      throw new Error(
        `${mountPoint} holds ${atMountPoint.source} (${atMountPoint.fsType}), not ${stick}; unmount it, or set another mount point (option mount, or $SOVEREIGN_BACKUP_USB_MOUNT)`,
      );
    }
    await prepareMountPoint(mountPoint);
    const res = await mountDevice(device.path, mountPoint, this.options.fsType);
    // Check the mount table rather than trust the exit status: a mount that was interrupted
    // after the kernel attached the filesystem must still be unmounted by close().
    const now = mountAt(await readMountInfo(), mountPoint);
    if (!now || !isDevice(now, device)) {
      throw new Error(`could not mount ${stick} at ${mountPoint}: ${res.ok ? "it does not show in /proc/self/mountinfo" : res.message}`);
    }
    const attachment = { device, root: mountPoint, mountedByUs: true };
    if (isReadOnly(now)) {
      this.attachment = attachment;
      await this.close().catch((err: Error) => this.log.warn(err.message));
      throw new Error(`${stick} mounted read-only at ${mountPoint} (a write-protect switch, or filesystem errors: run fsck)`);
    }
    await writeMountMarker(this.markerDir, device, mountPoint).catch((err: Error) => {
      this.log.warn(`could not note the mount in ${this.markerDir} (${err.message}); if this run is killed, unmount ${mountPoint} by hand`);
    });
    this.log.info(`mounted ${stick} at ${mountPoint}`);
    return attachment;
  }

  /** `<root>/<subdir>`, refusing symlinks on the stick: archives must stay on it. */
  private async archiveDirectory(root: string): Promise<string> {
    let path = root;
    for (const part of this.options.subdir.split("/").filter(Boolean)) {
      path = join(path, part);
      const st = await lstat(path).catch(() => null);
      if (!st) break;
      if (st.isSymbolicLink()) throw new Error(`${path} on the stick is a symlink; refusing to follow it (archives stay on the stick)`);
      if (!st.isDirectory()) throw new Error(`${path} on the stick is not a directory`);
    }
    return join(root, this.options.subdir);
  }
}

/** Whether the run that noted a mount still lives (a `--once` run beside the timer's). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Same filesystem: by device number, or by source path (FUSE and btrfs use anonymous numbers). */
function isDevice(entry: MountEntry, device: BlockDevice): boolean {
  return (entry.major === device.major && entry.minor === device.minor) || entry.source === device.path;
}

function checkUsable(entry: MountEntry, stick: string, log: Logger): void {
  if (isReadOnly(entry)) throw new Error(`${stick} is mounted read-only at ${entry.mountPoint}; remount it read-write (mount -o remount,rw ${entry.mountPoint})`);
  if (entry.root !== "/") log.warn(`${entry.mountPoint} is a bind mount of ${entry.root} on ${stick}, not its root`);
}

/** Creates the mount point 0700 if missing; refuses one that is not an empty directory. */
async function prepareMountPoint(mountPoint: string): Promise<void> {
  await mkdir(mountPoint, { recursive: true, mode: 0o700 });
  const st = await stat(mountPoint);
  if (!st.isDirectory()) throw new Error(`mount point ${mountPoint} is not a directory`);
  const entries = await readdir(mountPoint);
  if (entries.length > 0) {
    throw new Error(`mount point ${mountPoint} is not empty (${entries.slice(0, 3).join(", ")}${entries.length > 3 ? ", ..." : ""}); refusing to mount the stick over it`);
  }
}

/**
 * The path /proc/self/mountinfo shows for `path` once it exists: symlinks resolved in the
 * part that exists, the missing rest appended.
 */
async function realPathOfMissing(path: string): Promise<string> {
  const missing: string[] = [];
  let existing = path;
  for (;;) {
    try {
      return join(await realpath(existing), ...missing.reverse());
    } catch {
      if (existing === "/") return path;
      missing.push(basename(existing));
      existing = dirname(existing);
    }
  }
}

/** After mkdir: the archive directory resolves inside the mount and lies on the stick's filesystem. */
async function assertOnStick(dir: string, root: string): Promise<void> {
  const [realDir, realRoot] = await Promise.all([realpath(dir), realpath(root)]);
  const rel = relative(realRoot, realDir);
  const outside = rel === ".." || rel.startsWith("../") || isAbsolute(rel);
  const [dirStat, rootStat] = await Promise.all([stat(realDir), stat(realRoot)]);
  if (outside || dirStat.dev !== rootStat.dev) {
    throw new Error(`${dir} resolves to ${realDir}, which is not on the stick mounted at ${root}`);
  }
}
