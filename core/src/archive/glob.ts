/**
 * The one pattern language for member names, at backup (`exclude`, `exclude_from`) and at
 * partial restore (`--path`): GNU tar's wildcards with its defaults (`--wildcards
 * --wildcards-match-slash`, and FNM_LEADING_DIR for what is below a match):
 *
 * - a pattern is an fnmatch(3) glob without FNM_PATHNAME or FNM_PERIOD: `*`, `?` and `[...]`
 *   (with `[!...]`, ranges and `[:classes:]`) match `/` and leading dots too; a backslash
 *   quotes the next character;
 * - a match also covers everything below it (`dir/sub` matches `dir/sub/file`);
 * - anchored (restore, like `tar -x NAME`), a pattern is matched against the whole member name;
 *   unanchored (exclusion, like `tar --exclude`), also against every tail that starts after a
 *   `/` (`node_modules` matches `srv/app/node_modules`).
 *
 * Member names and patterns are byte strings (see byte-string.ts); `?` therefore matches one
 * byte, where GNU tar in a UTF-8 locale matches one character.
 */

/** A predicate over member names: relative, no leading `/`, no trailing `/`. */
export type NameMatcher = (name: string) => boolean;

export interface GlobOptions {
  /** Match from the start of the name only (restore), or after any `/` too (exclusion). */
  readonly anchored: boolean;
}

/** One matcher for any of `patterns` (byte strings). */
export function compileGlobs(patterns: readonly string[], { anchored }: GlobOptions): NameMatcher {
  if (patterns.length === 0) return () => false;
  const sources = patterns.map(globToRegExpSource);
  // A pattern that starts with `*` already matches after any `/`: trying it from every `/`
  // as well made each name cost (slashes x length), 94 ms for a name 2000 directories deep.
  const fromAnySlash = anchored ? [] : sources.filter((source) => !source.startsWith("[^]*"));
  const fromStart = anchored ? sources : sources.filter((source) => source.startsWith("[^]*"));
  const alternatives = [...fromStart, ...(fromAnySlash.length ? [`(?:[^]*/)?(?:${fromAnySlash.join("|")})`] : [])];
  const re = new RegExp(`^(?:${alternatives.join("|")})(?:/[^]*)?$`);
  return (name) => re.test(name);
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

/** Whether a pattern has wildcards at all (a plain name matches only itself and what is below). */
export function hasWildcards(pattern: string): boolean {
  return /[*?[\\]/.test(pattern);
}

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
