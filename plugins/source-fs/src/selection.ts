/**
 * What is left out of the archive, and why: the one place that decides, for the archive and for
 * the preview (`sov run --dry-run --verbose`) alike. It runs on the walker's thread.
 *
 * Everything here works from what the walk already has in hand (the member name, the directory
 * listing, an lstat or fstat), so a rule that is off costs nothing per file. The only extra
 * syscalls are opening a CACHEDIR.TAG that a listing shows, with `exclude_caches` on.
 */
import { closeSync, constants, type Dirent, openSync, readSync, type Stats } from "node:fs";
// The walker thread loads only this small module of the core, not the whole core.
import { formatBytes } from "@sov/core/format";
import { byteString, display, fsPath } from "./byte-path.js";
import { type ExcludeMatcher, PatternSet } from "./exclude.js";

/** The selection options as the walker needs them; plain data, so it can travel to the worker. */
export interface SelectionRules {
  /** Patterns read from `exclude_from` files: the file (for reasons) and its patterns as byte strings. */
  readonly excludeFrom?: ReadonlyArray<{ readonly file: string; readonly patterns: readonly string[] }>;
  readonly excludeCaches?: boolean;
  /** Entry names, as byte strings. */
  readonly excludeIfPresent?: readonly string[];
  readonly oneFileSystem?: boolean;
  /** `text` is the limit as configured (`2G`), for reasons. */
  readonly excludeLargerThan?: { readonly bytes: number; readonly text: string };
}

/** Why an entry is left out; turned into words only when someone reads them (`Selection.reason`). */
export type Exclusion =
  | { readonly kind: "pattern" }
  | { readonly kind: "cache" }
  | { readonly kind: "present"; readonly tag: string }
  | { readonly kind: "filesystem" }
  | { readonly kind: "size"; readonly size: number }
  | { readonly kind: "socket" };

/** A directory some rule applies to, judged from its listing. */
export interface DirectoryVerdict {
  /** `all`: not archived at all, not even its own entry. `contents`: archived as an empty directory, but for `keep`. */
  readonly leaves: "all" | "contents";
  readonly exclusion: Exclusion;
  /** The entry still archived (and walked as usual) inside a `contents` directory: the cache tag. */
  readonly keep?: string;
}

/** https://bford.info/cachedir/: the tag's first 43 bytes, exactly. */
export const CACHEDIR_TAG = "CACHEDIR.TAG";
export const CACHEDIR_SIGNATURE = "Signature: 8a477f597d28d172789f06886806bc55";

export const PATTERN: Exclusion = { kind: "pattern" };
export const SOCKET: Exclusion = { kind: "socket" };
const CACHE: Exclusion = { kind: "cache" };
const FILESYSTEM: Exclusion = { kind: "filesystem" };
const TAG_OPEN_FLAGS = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY;

export class Selection {
  /** True when the member name matches an exclusion pattern. */
  readonly excludedByPattern: ExcludeMatcher;
  /** Every pattern with its reason, in order, and all of them compiled together. */
  private readonly patterns: ReadonlyArray<{ readonly pattern: string; readonly reason: string }>;
  private readonly patternSet: PatternSet;
  private readonly excludeCaches: boolean;
  private readonly ifPresent: ReadonlySet<string>;
  private readonly oneFileSystem: boolean;
  private readonly sizeLimit: { readonly bytes: number; readonly text: string } | undefined;

  constructor(exclude: readonly string[], rules: SelectionRules = {}) {
    this.patterns = [
      ...exclude.map((p) => ({ pattern: byteString(p), reason: `matches exclude pattern ${p}` })),
      ...(rules.excludeFrom ?? []).flatMap(({ file, patterns }) =>
        patterns.map((pattern) => ({ pattern, reason: `from exclude_from ${file}: ${display(pattern)}` })),
      ),
    ];
    const patternSet = new PatternSet(this.patterns.map((p) => p.pattern));
    this.patternSet = patternSet;
    this.excludedByPattern = (name) => patternSet.matches(name);
    this.excludeCaches = rules.excludeCaches ?? false;
    this.ifPresent = new Set(rules.excludeIfPresent ?? []);
    this.oneFileSystem = rules.oneFileSystem ?? false;
    this.sizeLimit = rules.excludeLargerThan;
  }

  /** Whether a regular file's size can leave it out at all (the preview stats files only then). */
  get limitsSize(): boolean {
    return this.sizeLimit !== undefined;
  }

  tooLarge(size: number): boolean {
    return this.sizeLimit !== undefined && size > this.sizeLimit.bytes;
  }

  /**
   * The rules that look at a whole directory, in GNU tar's order: a tag of `exclude_if_present`
   * leaves it out entirely; a mount point (below a listed path) is archived empty; a valid
   * CACHEDIR.TAG leaves only the tag. `entries` is the listing the walk has already read.
   */
  judgeDirectory(path: string, entries: readonly Dirent[], st: Stats, parentDev: number | undefined): DirectoryVerdict | undefined {
    let cacheTag = false;
    if (this.ifPresent.size > 0 || this.excludeCaches) {
      for (const entry of entries) {
        if (this.ifPresent.has(entry.name)) return { leaves: "all", exclusion: { kind: "present", tag: entry.name } };
        if (entry.name === CACHEDIR_TAG) cacheTag = this.excludeCaches;
      }
    }
    if (this.oneFileSystem && parentDev !== undefined && st.dev !== parentDev) return { leaves: "contents", exclusion: FILESYSTEM };
    if (cacheTag && isValidCacheTag(`${path === "/" ? "" : path}/${CACHEDIR_TAG}`)) return { leaves: "contents", exclusion: CACHE, keep: CACHEDIR_TAG };
    return undefined;
  }

  /** The reason a person reads, e.g. `matches exclude pattern *.pyc`, `larger than 2G (3.1 GiB)`. */
  reason(name: string, exclusion: Exclusion): string {
    switch (exclusion.kind) {
      case "pattern": {
        return this.patterns[this.patternSet.firstMatch(name)]?.reason ?? "matches an exclude pattern";
      }
      case "cache":
        return `cache directory (${CACHEDIR_TAG})`;
      case "present":
        return `holds ${display(exclusion.tag)}`;
      case "filesystem":
        return "on another filesystem";
      case "size":
        return `larger than ${this.sizeLimit?.text} (${formatBytes(exclusion.size)})`;
      case "socket":
        return "a socket; sockets are not archived";
    }
  }
}

/**
 * A regular file (never followed through a symlink, as GNU tar opens it) whose first 43 bytes
 * are the signature. A short, wrong or unreadable tag excludes nothing.
 */
export function isValidCacheTag(path: string): boolean {
  let fd: number;
  try {
    fd = openSync(fsPath(path), TAG_OPEN_FLAGS);
  } catch {
    return false;
  }
  try {
    const want = CACHEDIR_SIGNATURE.length;
    const head = Buffer.alloc(want);
    let got = 0;
    while (got < want) {
      const n = readSync(fd, head, got, want - got, null);
      if (n === 0) break;
      got += n;
    }
    return got === want && head.toString("latin1") === CACHEDIR_SIGNATURE;
  } catch {
    return false; // a directory (EISDIR), an empty FIFO (EAGAIN), a read error
  } finally {
    closeSync(fd);
  }
}

