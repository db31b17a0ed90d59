import { createRequire } from "node:module";
import type { Document, LineCounter } from "yaml";
import { ConfigError } from "../errors.js";

type Yaml = typeof import("yaml");
let yamlModule: Yaml | undefined;

/**
 * yaml is loaded with the first config parsed, not with the core: evaluating it costs about
 * 45 ms of CPU, which a restore on a host with no config (only the archive and the key) and
 * every worker that loads the core (source-fs's walker) would pay for nothing.
 */
function yaml(): Yaml {
  return (yamlModule ??= createRequire(import.meta.url)("yaml") as Yaml);
}

export type ConfigPath = ReadonlyArray<string | number>;

/**
 * A parsed YAML config that remembers where every value came from, so an error can name the
 * file, line and key. Parsing never evaluates anything: no tags beyond the YAML core schema,
 * no `$VAR` expansion, no merge keys, no aliases expanded into new behaviour.
 */
export class YamlConfigDocument {
  readonly data: unknown;

  private constructor(
    readonly file: string,
    private readonly doc: Document.Parsed,
    private readonly lines: LineCounter,
  ) {
    this.data = doc.toJS({ maxAliasCount: 0 });
  }

  static parse(file: string, text: string): YamlConfigDocument {
    const { LineCounter, parseDocument } = yaml();
    const lines = new LineCounter();
    // Strict core schema, without the YAML 1.1 extras (`!!binary`, `!!set`, `!!timestamp`).
    const doc = parseDocument(text, { lineCounter: lines, schema: "core", resolveKnownTags: false, merge: false, uniqueKeys: true, prettyErrors: false });
    const problem = doc.errors[0];
    if (problem) {
      const line = problem.linePos?.[0]?.line ?? lines.linePos(problem.pos[0]).line;
      throw new ConfigError(`${file}:${line}: not valid YAML: ${problem.message.split("\n")[0]}`);
    }
    // The parser only warns about a tag it does not know and keeps the bare value: a config
    // written for another tool (`!!python/object`, `!custom`) would be half-understood.
    const unknownTag = doc.warnings.find((w) => w.code === "TAG_RESOLVE_FAILED");
    if (unknownTag) {
      const line = unknownTag.linePos?.[0]?.line ?? lines.linePos(unknownTag.pos[0]).line;
      const tag = /Unresolved tag: (\S+)/.exec(unknownTag.message)?.[1] ?? "a tag";
      throw new ConfigError(`${file}:${line}: YAML tag ${tag} is not allowed: sov configs use plain values only (remove the tag)`);
    }
    try {
      return new YamlConfigDocument(file, doc, lines);
    } catch (err) {
      throw new ConfigError(`${file}: ${(err as Error).message} (YAML aliases are not allowed in sov configs)`);
    }
  }

  /** `file:line` of the value at `path`, or of its nearest existing parent. */
  where(path: ConfigPath): string {
    return `${this.file}:${this.lineOf(path)}`;
  }

  /** `file:line: key: message`, the shape of every config error sov prints. */
  error(path: ConfigPath, message: string): ConfigError {
    const key = path.length ? `${formatPath(path)}: ` : "";
    return new ConfigError(`${this.where(path)}: ${key}${message}`);
  }

  lineOf(path: ConfigPath): number {
    for (let depth = path.length; depth >= 0; depth--) {
      const node = depth === 0 ? this.doc.contents : this.doc.getIn(path.slice(0, depth), true);
      const offset = nodeOffset(node) ?? (depth > 0 ? this.keyOffset(path.slice(0, depth)) : undefined);
      if (offset !== undefined) return this.lines.linePos(offset).line;
    }
    return 1;
  }

  /** The offset of the key itself (for errors about a key whose value is empty). */
  private keyOffset(path: ConfigPath): number | undefined {
    const parent = path.length > 1 ? this.doc.getIn(path.slice(0, -1), true) : this.doc.contents;
    const { isMap, isPair, isScalar } = yaml();
    if (!isMap(parent)) return undefined;
    const last = path[path.length - 1];
    const pair = parent.items.find((p) => isPair(p) && isScalar(p.key) && p.key.value === last);
    return pair ? nodeOffset(pair.key) : undefined;
  }
}

function nodeOffset(node: unknown): number | undefined {
  const range = (node as { range?: [number, number, number] } | null)?.range;
  return range ? range[0] : undefined;
}

export function formatPath(path: ConfigPath): string {
  return path.map((p, i) => (typeof p === "number" ? `[${p}]` : i === 0 ? p : `.${p}`)).join("");
}
