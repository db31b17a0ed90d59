/**
 * Module resolve hooks (registered by share-core.ts): every `import "@sov/core"` or
 * `"@sov/core/<subpath>"`, from any module, resolves as if imported from inside the running core
 * package (package self-reference), so it gets this core whatever copy a plugin's own
 * node_modules holds. Every other specifier resolves as usual.
 */
const RUNNING_CORE = new URL("./index.js", import.meta.url).href;

interface ResolveContext {
  parentURL?: string | undefined;
  [key: string]: unknown;
}

export function resolve<T>(specifier: string, context: ResolveContext, nextResolve: (specifier: string, context: ResolveContext) => T): T {
  if (specifier === "@sov/core" || specifier.startsWith("@sov/core/")) {
    return nextResolve(specifier, { ...context, parentURL: RUNNING_CORE });
  }
  return nextResolve(specifier, context);
}
