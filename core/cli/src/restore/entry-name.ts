import { toBinary } from "./tar-header.js";

/** Deeper than any real tree; a guard against archives built to exhaust the stack or memory (node-tar CVE-2024-28863). */
export const MAX_DEPTH = 1024;

export type NameCheck = { ok: true; parts: string[]; path: string } | { ok: false; reason: string };

/**
 * An entry name as a path relative to TARGET, or why it is refused. `./` prefixes and `.`
 * components go; absolute names, `..` anywhere and NUL bytes are refused rather than rewritten
 * (GNU tar strips a leading `/`; an archive sov made never has one, so it is a sign of a hostile
 * or foreign archive). Names are binary strings (see tar-header.ts).
 */
export function checkEntryName(name: string): NameCheck {
  if (name.includes("\0")) return { ok: false, reason: "the name contains a NUL byte" };
  if (name.startsWith("/")) return { ok: false, reason: "absolute name (would be written outside TARGET)" };
  const parts = name.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.includes("..")) return { ok: false, reason: "the name contains '..' (would be written outside TARGET)" };
  if (parts.length > MAX_DEPTH) return { ok: false, reason: `more than ${MAX_DEPTH} directory levels` };
  return { ok: true, parts, path: parts.join("/") };
}

/**
 * The paths a partial restore asked for, like `tar -x etc/nginx`: a pattern selects the entry
 * with that name and everything below it. `*` and `?` are wildcards (`*` also crosses `/`, as
 * in GNU tar) and `[...]` a character class; a leading `/` or `./` is ignored, since archive
 * names are relative.
 */
export class PathFilter {
  private readonly patterns: Array<{ text: string; literal: string | null; regex: RegExp | null; used: boolean }>;

  constructor(patterns: readonly string[]) {
    this.patterns = patterns.map((text) => {
      const norm = toBinary(text).split("/").filter((p) => p !== "" && p !== ".").join("/");
      const isGlob = /[*?[]/.test(norm);
      return { text, literal: isGlob ? null : norm, regex: isGlob ? globToRegex(norm) : null, used: false };
    });
  }

  get active(): boolean {
    return this.patterns.length > 0;
  }

  matches(path: string): boolean {
    let hit = false;
    for (const p of this.patterns) {
      const ok = p.literal !== null ? p.literal === "" || path === p.literal || path.startsWith(`${p.literal}/`) : p.regex!.test(path);
      if (ok) {
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

function globToRegex(glob: string): RegExp {
  let out = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === "*") out += ".*";
    else if (c === "?") out += ".";
    else if (c === "[") {
      const close = glob.indexOf("]", i + 2);
      if (close === -1) {
        out += "\\[";
        continue;
      }
      let body = glob.slice(i + 1, close);
      const negate = body.startsWith("!") || body.startsWith("^");
      if (negate) body = body.slice(1);
      out += `[${negate ? "^" : ""}${body.replace(/[\\\]^]/g, "\\$&")}]`;
      i = close;
    } else out += c.replace(/[.+^${}()|\\\]]/g, "\\$&");
  }
  return new RegExp(`^(?:${out})(?:/.*)?$`, "s");
}
