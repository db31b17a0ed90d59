/**
 * Paths longer than the kernel takes in one syscall (PATH_MAX, 4096 bytes). A tree 2000
 * directories deep has paths of ~8000 bytes: lstat and open on them fail with ENAMETOOLONG,
 * which silently cut such trees out of the archive (issue 16). GNU tar walks with openat(2);
 * Node has no *at calls, so a long path is reached through a directory descriptor instead:
 * `/proc/self/fd/N/<the rest>`, where N is a directory opened on the way down. The cut points
 * depend only on the path, so siblings share their anchors.
 */
import { closeSync, constants, openSync } from "node:fs";
import { fsPath } from "./byte-string.js";

/** Member names deeper than this are refused by restore, so backup refuses to write them. */
export const MAX_MEMBER_DEPTH = 4096;

/** Paths up to this length go to the kernel as they are (PATH_MAX less room for the NUL). */
const DIRECT_LIMIT = 4000;
/** An anchor covers this many bytes of path below it, a component more at most (NAME_MAX is 255). */
const ANCHOR_SPAN = 3000;
/** Open anchors are dropped all at once past this many (a walk of many deep directories). */
const MAX_ANCHORS = 64;
const ANCHOR_FLAGS = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;

export class DeepPaths {
  /** Directory path (a byte string) → an open descriptor of it. */
  private readonly anchors = new Map<string, number>();

  /**
   * The path to give fs calls for `path`, an absolute byte string: itself when short enough,
   * else a `/proc/self/fd/N/...` path through directories opened (never through a symlink)
   * along it. Opening an anchor can fail like any open: ENOENT, ENOTDIR, ELOOP for a symlink.
   */
  access(path: string): string | Buffer {
    if (path.length <= DIRECT_LIMIT) return fsPath(path);
    let base = "";
    let baseFd = -1;
    for (let from = 0; ; ) {
      const via = baseFd === -1 ? "" : `/proc/self/fd/${baseFd}`;
      if (via.length + path.length - from <= DIRECT_LIMIT) return fsPath(via + path.slice(from));
      const cut = path.lastIndexOf("/", from + ANCHOR_SPAN);
      if (cut <= from) return fsPath(via + path.slice(from)); // no `/` to cut at: the kernel says why
      base = path.slice(0, cut);
      let fd = this.anchors.get(base);
      if (fd === undefined) {
        fd = openSync(fsPath(via + path.slice(from, cut)), ANCHOR_FLAGS);
        if (this.anchors.size >= MAX_ANCHORS) this.close();
        this.anchors.set(base, fd);
      }
      baseFd = fd;
      from = cut;
    }
  }

  /** Closes every anchor: at the end, and whenever a directory on the way may have changed. */
  close(): void {
    for (const fd of this.anchors.values()) closeSync(fd);
    this.anchors.clear();
  }
}
