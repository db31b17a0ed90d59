import { AsyncParallelHook, AsyncSeriesBailHook, AsyncSeriesHook, type Tap } from "tapable";
import { SovError } from "./errors.js";
import type { StageHooks } from "./plugin.js";

/** An error thrown inside a tap, rethrown with the tap's name and hook so a user knows whom to blame. */
export class PluginHookError extends Error {
  constructor(
    readonly plugin: string,
    readonly hook: string,
    readonly original: unknown,
  ) {
    super(`${plugin} (${hook}): ${original instanceof Error ? original.message : String(original)}`, { cause: original });
    this.name = "PluginHookError";
  }
}

/** The original error if it is one of sov's own (it keeps its exit code), else the annotated one. */
function annotate(tap: Tap, hook: string, err: unknown): unknown {
  if (err instanceof PluginHookError) return err;
  if (err instanceof SovError) {
    err.message = err.message.startsWith(`${tap.name}`) ? err.message : `${tap.name}: ${err.message}`;
    return err;
  }
  return new PluginHookError(tap.name, hook, err);
}

type AnyFn = (...args: unknown[]) => unknown;

function annotateTaps<H extends { intercept(i: object): void }>(hook: H, name: string): H {
  hook.intercept({
    register(tap: Tap & { type: string; fn: AnyFn }) {
      const fn = tap.fn;
      if (tap.type === "promise") {
        tap.fn = async (...args: unknown[]) => {
          try {
            return await fn(...args);
          } catch (err) {
            throw annotate(tap, name, err);
          }
        };
      } else if (tap.type === "async") {
        tap.fn = (...args: unknown[]) => {
          const callback = args.pop() as (err?: unknown, result?: unknown) => void;
          fn(...args, (err?: unknown, result?: unknown) => callback(err ? annotate(tap, name, err) : err, result));
        };
      } else {
        tap.fn = (...args: unknown[]) => {
          try {
            return fn(...args);
          } catch (err) {
            throw annotate(tap, name, err);
          }
        };
      }
      return tap;
    },
  });
  return hook;
}

/** A fresh, frozen set of stage hooks for one run; errors in taps carry the tap's name. */
export function createStageHooks(): StageHooks {
  // tapable's typings want one argument name per hook argument; the casts keep the typed shape above.
  return Object.freeze({
    preHook: annotateTaps(new AsyncSeriesHook(["run"]), "preHook"),
    source: annotateTaps(new AsyncSeriesBailHook(["run"]), "source"),
    compress: annotateTaps(new AsyncSeriesBailHook(["run"]), "compress"),
    encrypt: annotateTaps(new AsyncSeriesBailHook(["run"]), "encrypt"),
    destination: annotateTaps(new AsyncParallelHook<[unknown, unknown]>(["destinations", "run"] as never), "destination"),
    prune: annotateTaps(new AsyncSeriesHook(["prune"]), "prune"),
  }) as unknown as StageHooks;
}
