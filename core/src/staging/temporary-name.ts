import { randomBytes } from "node:crypto";
import { hostname } from "node:os";

/**
 * Temporary object names: `<final>.<machine>.<pid>-<random>.tmp`. They never end in `.age`, so
 * they never parse as archives, and they say which process on which machine wrote them, so a
 * later run can tell an abandoned temporary from one still being written.
 */
const TEMPORARY_RE = /^(.+)\.([A-Za-z0-9_-]{1,64})\.(\d+)-([0-9a-f]+)\.tmp$/;

/** This machine's name as temporary names carry it: only `[A-Za-z0-9_-]`, so it parses back. */
export const THIS_MACHINE = machineLabel(hostname());

export function machineLabel(name: string): string {
  return name.replace(/[^A-Za-z0-9_-]/g, "_").slice(0, 64) || "host";
}

export function randomSuffix(): string {
  return randomBytes(4).toString("hex");
}

export function temporaryName(finalName: string, machine = THIS_MACHINE, pid = process.pid, random = randomSuffix()): string {
  return `${finalName}.${machine}.${pid}-${random}.tmp`;
}

export interface ParsedTemporaryName {
  readonly finalName: string;
  readonly machine: string;
  readonly pid: number;
}

export function parseTemporaryName(name: string): ParsedTemporaryName | null {
  const m = TEMPORARY_RE.exec(name);
  if (!m) return null;
  return { finalName: m[1]!, machine: m[2]!, pid: Number(m[3]) };
}
