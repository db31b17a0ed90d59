import { createRequire } from "node:module";

type Loader = (file: string, text: string) => unknown;

interface Explorer {
  search(from: string): Promise<{ filepath: string; config?: unknown } | null>;
  load(file: string): Promise<{ filepath: string; config?: unknown } | null>;
}

/**
 * cosmiconfig's Explorer, made directly with the options its `cosmiconfig()` factory would pass
 * when no meta config exists. The factory always looks for a meta config in `process.cwd()`
 * (and loads `.config/config.js` there with `import()`); sov must never do that, and must not
 * `chdir` the whole process to avoid it. The Explorer class is cosmiconfig's internal API, so
 * the dependency is pinned to 9.0.x and this fails loudly if the class moves.
 */
export function createYamlExplorer(moduleName: string, searchPlaces: string[], yaml: Loader, refuse: Loader): Explorer {
  const { Explorer: ExplorerClass } = createRequire(import.meta.url)("cosmiconfig/dist/Explorer.js") as {
    Explorer?: new (options: Record<string, unknown>) => Explorer;
  };
  if (typeof ExplorerClass !== "function") throw new Error("cosmiconfig/dist/Explorer.js has no Explorer class: the cosmiconfig version is not the one sov was built for");
  return new ExplorerClass({
    moduleName,
    searchPlaces,
    searchStrategy: "none",
    ignoreEmptySearchPlaces: true,
    cache: false,
    transform: (result: unknown) => result,
    metaConfigFilePath: null,
    mergeImportArrays: true,
    mergeSearchPlaces: true,
    loaders: { ".yaml": yaml, ".yml": yaml, noExt: yaml, ".json": refuse, ".js": refuse, ".mjs": refuse, ".cjs": refuse, ".ts": refuse },
  });
}
