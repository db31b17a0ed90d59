import { byteString, compileGlobs, hasWildcards, MAX_MEMBER_DEPTH, type NameMatcher } from "@sov/core/archive";

/**
 * Deeper than any real tree; a guard against archives built to exhaust the stack or memory
 * (node-tar CVE-2024-28863). Backup refuses to write deeper names, so restore never refuses its own.
 */
export const MAX_DEPTH = MAX_MEMBER_DEPTH;

export type NameCheck = { ok: true; parts: string[]; path: string } | { ok: false; reason: string };

/**
 * An entry name as a path relative to TARGET, or why it is refused. `./` prefixes and `.`
 * components go; absolute names, `..` anywhere and NUL bytes are refused rather than rewritten
 * (GNU tar strips a leading `/`; an archive sov made never has one, so it is a sign of a hostile
 * or foreign archive). Names are byte strings (see @sov/core/archive).
 */
export function checkEntryName(name: string): NameCheck {
  // the common name takes plainPath's one scan; anything else the long way below
  const path = plainPath(name);
  if (path !== null) return { ok: true, parts: path.split("/"), path };
  if (name.includes("\0")) return { ok: false, reason: "the name contains a NUL byte" };
  if (name.startsWith("/")) return { ok: false, reason: "absolute name (would be written outside TARGET)" };
  const parts = name.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.includes("..")) return { ok: false, reason: "the name contains '..' (would be written outside TARGET)" };
  if (parts.length > MAX_DEPTH) return { ok: false, reason: `more than ${MAX_DEPTH} directory levels` };
  return { ok: true, parts, path: parts.join("/") };
}

/**
 * `name` without a directory's trailing `/` when it is the common kind of name, else null: no
 * NUL, not absolute, no empty, `.` or `..` component, at most MAX_DEPTH levels. Such a name is
 * its own path under TARGET. One pass over its characters, with no regular expression and no
 * array: nearly every entry of an archive takes only this, so verify and a partial restore
 * call it for every entry and checkEntryName only for the rest.
 */
export function plainPath(name: string): string | null {
  const end = name.length > 1 && name.charCodeAt(name.length - 1) === SLASH ? name.length - 1 : name.length;
  let levels = 1;
  let start = 0;
  for (let i = 0; i < end; i++) {
    const c = name.charCodeAt(i);
    if (c === SLASH) {
      if (isDotOrEmpty(name, start, i) || ++levels > MAX_DEPTH) return null;
      start = i + 1;
    } else if (c === 0) {
      return null;
    }
  }
  if (isDotOrEmpty(name, start, end)) return null;
  return end === name.length ? name : name.slice(0, end);
}

const SLASH = 0x2f;
const DOT = 0x2e;

/** Whether name[start, end) is an empty, `.` or `..` component. */
function isDotOrEmpty(name: string, start: number, end: number): boolean {
  const length = end - start;
  return length === 0 || (length <= 2 && name.charCodeAt(start) === DOT && (length === 1 || name.charCodeAt(start + 1) === DOT));
}

/**
 * The paths a partial restore asked for, like `tar -x etc/nginx`: a pattern selects the entry
 * with that name and everything below it. Patterns are the ones `exclude` takes (the shared
 * glob rules of @sov/core/archive: `*` also crosses `/`), anchored at the archive root; a
 * leading `/` or `./` is ignored, since archive names are relative.
 */
export class PathFilter {
  private readonly patterns: Array<{ text: string; matches: NameMatcher; used: boolean }>;

  constructor(patterns: readonly string[]) {
    this.patterns = patterns.map((text) => {
      const norm = byteString(text).split("/").filter((p) => p !== "" && p !== ".").join("/");
      // `/` or `.`: the whole archive
      const matches = norm === "" ? () => true : hasWildcards(norm) ? compileGlobs([norm], { anchored: true }) : literalMatcher(norm);
      return { text, matches, used: false };
    });
  }

  get active(): boolean {
    return this.patterns.length > 0;
  }

  matches(path: string): boolean {
    let hit = false;
    for (const p of this.patterns) {
      if (p.matches(path)) {
        p.used = true;
        hit = true;
      }
    }
    return hit;
  }

  /** Patterns that matched no entry: GNU tar's "Not found in archive". */
  unmatched(): string[] {
    return this.patterns.filter((p) => !p.used).map((p) => p.text);
  }
}

/** A name without wildcards: itself and what is below it, without a regular expression per entry. */
function literalMatcher(name: string): NameMatcher {
  const below = `${name}/`;
  return (path) => path === name || path.startsWith(below);
}
