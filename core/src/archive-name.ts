/**
 * Archive names are the bash tool's, so users keep their scripts and habits:
 *   sovereign-backup-<host>-<YYYYMMDD-HHMMSS>.tar[.<zst|lz4|gz>].age
 * A second archive in the same second gets `-N` after the timestamp rather than overwriting.
 */
const PREFIX = "sovereign-backup-";
// The last suffix is always `age`, so sidecars (`.age.sha256`) and temp files never parse as archives.
const NAME_RE = /^sovereign-backup-(.+)-(\d{8})-(\d{6})(?:-(\d+))?\.tar(?:\.([a-z0-9]+))?\.(age)$/;

export interface ParsedArchiveName {
  host: string;
  /** From the name's timestamp, in local time like the bash tool's `date +%Y%m%d-%H%M%S`. */
  timestamp: Date;
  /** The stamp as written (`20261127-020000`), plus `-N` when present. */
  stamp: string;
  sequence: number;
  compression: string | null;
  encryption: string;
}

export function formatStamp(date: Date): string {
  const p = (n: number, w = 2) => String(n).padStart(w, "0");
  return (
    `${p(date.getFullYear(), 4)}${p(date.getMonth() + 1)}${p(date.getDate())}-` +
    `${p(date.getHours())}${p(date.getMinutes())}${p(date.getSeconds())}`
  );
}

export function archiveName(host: string, date: Date, compression: string | null, encryption: string, sequence = 0): string {
  const seq = sequence > 0 ? `-${sequence}` : "";
  const comp = compression ? `.${compression}` : "";
  return `${PREFIX}${host}-${formatStamp(date)}${seq}.tar${comp}.${encryption}`;
}

export function parseArchiveName(name: string): ParsedArchiveName | null {
  const m = NAME_RE.exec(name);
  if (!m) return null;
  const [, host, day, time, seq, compression, encryption] = m as unknown as [string, string, string, string, string | undefined, string | undefined, string];
  const timestamp = new Date(
    Number(day.slice(0, 4)), Number(day.slice(4, 6)) - 1, Number(day.slice(6, 8)),
    Number(time.slice(0, 2)), Number(time.slice(2, 4)), Number(time.slice(4, 6)),
  );
  if (Number.isNaN(timestamp.getTime())) return null;
  return {
    host,
    timestamp,
    stamp: `${day}-${time}${seq ? `-${seq}` : ""}`,
    sequence: seq ? Number(seq) : 0,
    compression: compression ?? null,
    encryption,
  };
}

/** The same name with the next free sequence number, for a collision at commit time. */
export function withSequence(name: string, sequence: number): string {
  const parsed = parseArchiveName(name);
  if (!parsed) throw new Error(`not an archive name: ${name}`);
  return archiveName(parsed.host, parsed.timestamp, parsed.compression, parsed.encryption, sequence);
}

/** Oldest first, by the name's timestamp then sequence: the order the bash tool's `ls` gave. */
export function compareArchiveNames(a: string, b: string): number {
  const pa = parseArchiveName(a);
  const pb = parseArchiveName(b);
  if (!pa || !pb) return a < b ? -1 : a > b ? 1 : 0;
  return pa.timestamp.getTime() - pb.timestamp.getTime() || pa.sequence - pb.sequence || (a < b ? -1 : a > b ? 1 : 0);
}
