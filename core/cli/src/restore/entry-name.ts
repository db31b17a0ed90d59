import { byteString, compileGlobs, hasWildcards, MAX_MEMBER_DEPTH, type NameMatcher } from "@sov/core/archive";

/**
 * Deeper than any real tree; a guard against archives built to exhaust the stack or memory
 * (node-tar CVE-2024-28863). Backup refuses to write deeper names, so restore never refuses its own.
 */
export const MAX_DEPTH = MAX_MEMBER_DEPTH;

/** A NUL, a leading `/`, or a component that is empty, `.` or `..`. */
const UNUSUAL_NAME = /\0|^\/|(?:^|\/)\.{0,2}(?:\/|$)/;

export type NameCheck = { ok: true; parts: string[]; path: string } | { ok: false; reason: string };

/**
 * An entry name as a path relative to TARGET, or why it is refused. `./` prefixes and `.`
 * components go; absolute names, `..` anywhere and NUL bytes are refused rather than rewritten
 * (GNU tar strips a leading `/`; an archive sov made never has one, so it is a sign of a hostile
 * or foreign archive). Names are byte strings (see @sov/core/archive).
 */
export function checkEntryName(name: string): NameCheck {
  // The common name, checked with one scan: no NUL, not absolute, and no empty, `.` or `..`
  // component (a directory's one trailing `/` aside). Anything else takes the long way below.
  const path = name.endsWith("/") ? name.slice(0, -1) : name;
  if (!UNUSUAL_NAME.test(path)) {
    const parts = path.split("/");
    if (parts.length <= MAX_DEPTH) return { ok: true, parts, path };
  }
  if (name.includes("\0")) return { ok: false, reason: "the name contains a NUL byte" };
  if (name.startsWith("/")) return { ok: false, reason: "absolute name (would be written outside TARGET)" };
  const parts = name.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.includes("..")) return { ok: false, reason: "the name contains '..' (would be written outside TARGET)" };
  if (parts.length > MAX_DEPTH) return { ok: false, reason: `more than ${MAX_DEPTH} directory levels` };
  return { ok: true, parts, path: parts.join("/") };
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
