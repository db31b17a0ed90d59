import { parseArchiveName } from "./archive-name.js";
import type { RetentionPolicy } from "./config/load.js";
import type { ArchiveRef } from "./plugin.js";

const DAY_MS = 24 * 60 * 60 * 1000;

export interface PruneDecision {
  readonly archive: ArchiveRef;
  readonly reason: string;
}

/**
 * The archives of `host` that `policy` lets go, judged by the timestamp in their names. Never
 * the archive just written, never the newest one, never another host's.
 */
export function selectExpired(
  archives: readonly ArchiveRef[],
  policy: RetentionPolicy,
  host: string,
  justWritten: string,
  now: Date,
): PruneDecision[] {
  if (policy.days <= 0) return [];
  const mine = archives
    .map((a) => ({ archive: a, parsed: parseArchiveName(a.name) }))
    .filter((x) => x.parsed?.host === host)
    .sort((a, b) => b.parsed!.timestamp.getTime() - a.parsed!.timestamp.getTime() || b.parsed!.sequence - a.parsed!.sequence);
  const newest = mine[0]?.archive.name;
  const cutoff = now.getTime() - policy.days * DAY_MS;
  return mine
    .filter((x) => x.archive.name !== justWritten && x.archive.name !== newest)
    .filter((x) => x.parsed!.timestamp.getTime() < cutoff)
    .map((x) => ({ archive: x.archive, reason: `older than ${policy.days} days` }));
}
