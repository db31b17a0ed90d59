/**
 * Which layer of a restore an error came from ("decrypting (.age)", "reading FILE"), carried on
 * the error object itself so it survives being passed down a stream pipeline.
 */
const STAGE = Symbol("sov.restore.stage");

export function stageOf(err: unknown): string | undefined {
  return err && typeof err === "object" ? ((err as Record<symbol, string | undefined>)[STAGE] ?? undefined) : undefined;
}

/** Marks `err` as coming from `stage`, unless an earlier layer already did. */
export function tagStage(err: unknown, stage: string): void {
  if (err && typeof err === "object" && !Object.hasOwn(err, STAGE)) {
    Object.defineProperty(err, STAGE, { value: stage, enumerable: false });
  }
}
