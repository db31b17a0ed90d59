import { parseArchiveName } from "./archive-name.js";
import type { ArchiveRef } from "./plugin.js";

const HOUR_MS = 3_600_000;
const DAY_MS = 24 * HOUR_MS;

/**
 * How long a destination keeps this host's archives. Every rule keeps archives; an archive
 * survives when any rule keeps it. With no rule at all, everything is kept. Periods follow
 * restic and borg: `keep_daily: 7` keeps the newest archive of each of the last 7 days that
 * have one. Times are the timestamps in the archive names (local time, like the bash tool's).
 */
export interface RetentionPolicy {
  /** The bash tool's rule: keep archives younger than this many days (0: no such rule). */
  readonly days: number;
  readonly keep_last?: number;
  readonly keep_hourly?: number;
  readonly keep_daily?: number;
  readonly keep_weekly?: number;
  readonly keep_monthly?: number;
  readonly keep_yearly?: number;
  /** Keep everything younger than this, e.g. `36h`, `10d`, `2w`, `6m`, `1y`. */
  readonly keep_within?: string;
}

export const RETENTION_KEYS = ["keep_last", "keep_hourly", "keep_daily", "keep_weekly", "keep_monthly", "keep_yearly", "keep_within"] as const;

export interface RetentionVerdict {
  readonly archive: ArchiveRef;
  readonly keep: boolean;
  /** Why it stays (every rule that keeps it) or why it goes. */
  readonly reasons: string[];
}

const WITHIN_RE = /^(\d+)([hdwmy])$/;
const UNIT_MS: Record<string, number> = { h: HOUR_MS, d: DAY_MS, w: 7 * DAY_MS, m: 30 * DAY_MS, y: 365 * DAY_MS };

export function parseWithin(text: string): number | null {
  const m = WITHIN_RE.exec(text.trim());
  return m ? Number(m[1]) * UNIT_MS[m[2]!]! : null;
}

function hasRules(policy: RetentionPolicy): boolean {
  return policy.days > 0 || RETENTION_KEYS.some((k) => policy[k] !== undefined && policy[k] !== 0 && policy[k] !== "");
}

const pad = (n: number) => String(n).padStart(2, "0");
/** ISO-8601 week-numbering year and week, as restic and borg bucket weeks. */
function isoWeek(d: Date): string {
  const t = new Date(d.getFullYear(), d.getMonth(), d.getDate());
  const day = (t.getDay() + 6) % 7;
  t.setDate(t.getDate() - day + 3);
  const firstThursday = new Date(t.getFullYear(), 0, 4);
  const week = 1 + Math.round(((t.getTime() - firstThursday.getTime()) / DAY_MS - 3 + ((firstThursday.getDay() + 6) % 7)) / 7);
  return `${t.getFullYear()}-W${pad(week)}`;
}

const BUCKETS: Array<[keyof RetentionPolicy, string, (d: Date) => string]> = [
  ["keep_hourly", "hourly", (d) => `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}h`],
  ["keep_daily", "daily", (d) => `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`],
  ["keep_weekly", "weekly", isoWeek],
  ["keep_monthly", "monthly", (d) => `${d.getFullYear()}-${pad(d.getMonth() + 1)}`],
  ["keep_yearly", "yearly", (d) => `${d.getFullYear()}`],
];

/**
 * Judges every archive of `host` in `archives` (others are not looked at). Never lets go of the
 * archive just written or the newest one, whatever the policy says.
 */
export function judgeRetention(
  archives: readonly ArchiveRef[],
  policy: RetentionPolicy,
  host: string,
  justWritten: string | null,
  now: Date,
): RetentionVerdict[] {
  const mine = archives
    .map((archive) => ({ archive, parsed: parseArchiveName(archive.name)! }))
    .filter((x) => x.parsed && x.parsed.host === host)
    .sort((a, b) => b.parsed.timestamp.getTime() - a.parsed.timestamp.getTime() || b.parsed.sequence - a.parsed.sequence);
  const reasons = new Map(mine.map((x) => [x.archive.name, [] as string[]]));
  const keep = (name: string, why: string) => reasons.get(name)!.push(why);

  if (!hasRules(policy)) for (const x of mine) keep(x.archive.name, "no retention rule: everything is kept");
  if (mine[0]) keep(mine[0].archive.name, "the newest archive");
  if (justWritten && reasons.has(justWritten)) keep(justWritten, "written by this run");
  if (policy.days > 0) {
    for (const x of mine) if (now.getTime() - x.parsed.timestamp.getTime() < policy.days * DAY_MS) keep(x.archive.name, `younger than ${policy.days} days`);
  }
  if (policy.keep_within) {
    const ms = parseWithin(policy.keep_within) ?? 0;
    for (const x of mine) if (now.getTime() - x.parsed.timestamp.getTime() < ms) keep(x.archive.name, `within ${policy.keep_within}`);
  }
  if (policy.keep_last) for (const x of mine.slice(0, policy.keep_last)) keep(x.archive.name, `one of the last ${policy.keep_last}`);
  for (const [key, label, bucketOf] of BUCKETS) {
    const count = policy[key] as number | undefined;
    if (!count) continue;
    const seen = new Set<string>();
    for (const x of mine) {
      const bucket = bucketOf(x.parsed.timestamp);
      if (seen.has(bucket)) continue;
      seen.add(bucket);
      if (seen.size > count) break;
      keep(x.archive.name, `${label} ${bucket}`);
    }
  }
  return mine.map((x) => {
    const why = reasons.get(x.archive.name)!;
    return why.length ? { archive: x.archive, keep: true, reasons: why } : { archive: x.archive, keep: false, reasons: ["no rule keeps it"] };
  });
}

/** The archives to remove, for callers that only need that. */
export function selectExpired(
  archives: readonly ArchiveRef[],
  policy: RetentionPolicy,
  host: string,
  justWritten: string,
  now: Date,
): Array<{ archive: ArchiveRef; reason: string }> {
  return judgeRetention(archives, policy, host, justWritten, now)
    .filter((v) => !v.keep)
    .map((v) => ({ archive: v.archive, reason: v.reasons.join(", ") }));
}

/** Until when the store's Object Lock keeps `archive`, if that is still after `now`: prune skips it. */
export function lockedPast(archive: ArchiveRef, now: Date): Date | undefined {
  const until = archive.lockedUntil;
  return until && until.getTime() > now.getTime() ? until : undefined;
}
