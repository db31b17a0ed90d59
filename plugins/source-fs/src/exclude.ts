/**
 * Exclusion patterns that behave like GNU tar's `--exclude PATTERN` with its defaults
 * (`--wildcards --no-anchored --wildcards-match-slash --recursion`):
 *
 * - a pattern is an fnmatch(3) glob without FNM_PATHNAME or FNM_PERIOD: `*`, `?` and `[...]`
 *   match `/` and leading dots too; a backslash quotes the next character;
 * - it is tried against the whole member name and against every tail that starts after a `/`
 *   (`node_modules` matches `srv/app/node_modules`);
 * - it also matches when it covers only leading components (FNM_LEADING_DIR: `dir/sub` matches
 *   `dir/sub/file`), so everything below an excluded directory is excluded as well.
 *
 * Member names are byte strings (one char per byte), and so are the compiled patterns; `?`
 * therefore matches one byte, where GNU tar in a UTF-8 locale matches one character.
 */

import { byteString } from "./byte-path.js";

/** A predicate over member names: relative, no leading `/`, no trailing `/`. */
export type ExcludeMatcher = (name: string) => boolean;

export function compileExcludes(patterns: readonly string[]): ExcludeMatcher {
  return compileBytePatterns(patterns.map(byteString));
}

/** The same, for patterns that are byte strings already (read from an `exclude_from` file). */
export function compileBytePatterns(patterns: readonly string[]): ExcludeMatcher {
  if (patterns.length === 0) return () => false;
  const set = new PatternSet(patterns);
  return (name) => set.matches(name);
}

const WILDCARD = /[*?[\\]/;

/** One expression for the sources of several patterns, with the tail and leading-directory rules above. */
function anchored(sources: readonly string[]): RegExp {
  return new RegExp(`^(?:[^]*/)?(?:${sources.join("|")})(?:/[^]*)?$`);
}

/**
 * Many byte-string patterns matched at the cost of a few: a literal pattern (no `*`, `?`, `[`
 * or `\`) is looked up in a Map by each candidate part of the name, and only the wildcard
 * patterns share one expression. 100,000 `exclude_from` lines were one alternation of 100,000
 * branches, tried at every `/` of every member name (a 200-file backup took 50 s).
 *
 * By the rules above a literal matches when it equals `name.slice(start, end)` for a start at
 * 0 or after a `/`, and an end at a `/` at or after that start, or at the end of the name.
 */
export class PatternSet {
  /** Each literal pattern with its first position in the list. */
  readonly #literals = new Map<string, number>();
  /** The wildcard patterns' positions in the list, their sources, and all of them as one expression. */
  readonly #wildcardIndexes: number[] = [];
  readonly #wildcardSources: string[] = [];
  readonly #wildcards: RegExp | undefined;
  /** One expression per wildcard pattern, built only when a reason is asked for. */
  #eachWildcard: RegExp[] | undefined;

  constructor(patterns: readonly string[]) {
    patterns.forEach((pattern, i) => {
      if (WILDCARD.test(pattern)) {
        this.#wildcardIndexes.push(i);
        this.#wildcardSources.push(globToRegExpSource(pattern));
      } else if (!this.#literals.has(pattern)) {
        this.#literals.set(pattern, i);
      }
    });
    this.#wildcards = this.#wildcardSources.length > 0 ? anchored(this.#wildcardSources) : undefined;
  }

  matches(name: string): boolean {
    return this.#firstLiteral(name, true) >= 0 || (this.#wildcards?.test(name) ?? false);
  }

  /** The position in the list of the first pattern that matches `name`, or -1. */
  firstMatch(name: string): number {
    const literal = this.#firstLiteral(name, false);
    if (!this.#wildcards?.test(name)) return literal;
    this.#eachWildcard ??= this.#wildcardSources.map((source) => anchored([source]));
    for (let w = 0; w < this.#eachWildcard.length; w++) {
      const index = this.#wildcardIndexes[w]!;
      if (literal >= 0 && index > literal) break;
      if (this.#eachWildcard[w]!.test(name)) return index;
    }
    return literal;
  }

  /** The lowest position of a literal pattern that matches `name` (or, with `any`, the first found); -1 if none. */
  #firstLiteral(name: string, any: boolean): number {
    if (this.#literals.size === 0) return -1;
    let best = -1;
    for (let start = 0; ; ) {
      for (let end = name.indexOf("/", start); ; end = name.indexOf("/", end + 1)) {
        const index = this.#literals.get(end === -1 ? name.slice(start) : name.slice(start, end));
        if (index !== undefined && (best < 0 || index < best)) {
          if (any) return index;
          best = index;
        }
        if (end === -1) break;
      }
      const slash = name.indexOf("/", start);
      if (slash === -1) return best;
      start = slash + 1;
    }
  }
}

const CLASSES: Readonly<Record<string, string>> = {
  alnum: "0-9A-Za-z",
  alpha: "A-Za-z",
  blank: " \\t",
  cntrl: "\\x00-\\x1f\\x7f",
  digit: "0-9",
  graph: "\\x21-\\x7e",
  lower: "a-z",
  print: "\\x20-\\x7e",
  punct: "!-\\/:-@\\[-`{-~",
  space: " \\t-\\r",
  upper: "A-Z",
  xdigit: "0-9A-Fa-f",
};

/** The regular expression source for one fnmatch pattern, matching the whole string. */
export function globToRegExpSource(pattern: string): string {
  let out = "";
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === "*") {
      out += "[^]*";
    } else if (c === "?") {
      out += "[^]";
    } else if (c === "\\" && i + 1 < pattern.length) {
      out += literal(pattern[++i]!);
    } else if (c === "[") {
      const bracket = parseBracket(pattern, i);
      if (bracket) {
        out += bracket.source;
        i = bracket.end;
      } else {
        out += literal(c); // an unclosed `[` is an ordinary character, as in fnmatch
      }
    } else {
      out += literal(c);
    }
  }
  return out;
}

/** `[...]` starting at `start`: the regex class and the index of its closing `]`. */
function parseBracket(pattern: string, start: number): { source: string; end: number } | undefined {
  let i = start + 1;
  let negate = false;
  if (pattern[i] === "!" || pattern[i] === "^") {
    negate = true;
    i++;
  }
  let members = "";
  let first = true;
  for (; i < pattern.length; first = false) {
    let c = pattern[i]!;
    if (c === "]" && !first) return { source: `[${negate ? "^" : ""}${members}]`, end: i };
    if (c === "[" && pattern[i + 1] === ":") {
      const close = pattern.indexOf(":]", i + 2);
      const cls = close === -1 ? undefined : CLASSES[pattern.slice(i + 2, close)];
      if (cls !== undefined) {
        members += cls;
        i = close + 2;
        continue;
      }
    }
    if (c === "\\" && i + 1 < pattern.length) c = pattern[++i]!;
    i++;
    if (pattern[i] === "-" && i + 1 < pattern.length && pattern[i + 1] !== "]") {
      let hi = pattern[i + 1]!;
      i += 2;
      if (hi === "\\" && i < pattern.length) hi = pattern[i++]!;
      // a reversed range matches nothing, as in glibc; a regex would reject it outright
      if (c <= hi) members += `${hex(c)}-${hex(hi)}`;
    } else {
      members += hex(c);
    }
  }
  return undefined;
}

function literal(c: string): string {
  return /[\w]/.test(c) ? c : hex(c);
}

function hex(c: string): string {
  return `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`;
}
