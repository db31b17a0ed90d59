/**
 * Exit codes are the bash tool's contract with its users' monitoring; they never change meaning.
 */
export const ExitCode = {
  ok: 0,
  failed: 1,
  usage: 2,
  lockHeld: 10,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

const SOV_ERROR = Symbol.for("@sov/core.SovError");

/** An error sov reports in one line and maps to an exit code; anything else is a bug and gets a stack. */
export class SovError extends Error {
  readonly exitCode: ExitCode;
  constructor(message: string, exitCode: ExitCode, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.exitCode = exitCode;
  }

  /**
   * A plugin installed beside its own copy of @sov/core throws that copy's ConfigError: the
   * brand, not the class identity, says whether an error is one of sov's.
   */
  static override [Symbol.hasInstance](value: unknown): boolean {
    if (this !== SovError) return Function.prototype[Symbol.hasInstance].call(this, value);
    return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[SOV_ERROR] === true;
  }
}
Object.defineProperty(SovError.prototype, SOV_ERROR, { value: true });

/** Bad config, bad arguments, a hostile hook or plugin path, an invalid recipient: exit 2, nothing read. */
export class ConfigError extends SovError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, ExitCode.usage, options);
  }
}

/** Another live run holds the lock: exit 10. */
export class LockHeldError extends SovError {
  constructor(message: string) {
    super(message, ExitCode.lockHeld);
  }
}

/** The backup (or restore) itself failed: exit 1. */
export class RunError extends SovError {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, ExitCode.failed, options);
  }
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}
