/** PAX extended header records: `"%d %s=%s\n"`, whose decimal length counts its own digits. */
import { TarFormatError } from "./tar-format.js";

/** One record. Key and value are byte strings. */
export function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`.length;
  let digits = String(body).length;
  if (String(body + digits).length > digits) digits++;
  return `${body + digits} ${key}=${value}\n`;
}

/** The records of one extended header's data, values kept as raw bytes; a later key wins. */
export function parsePax(data: Buffer, offset: number): Map<string, Buffer> {
  const records = new Map<string, Buffer>();
  let i = 0;
  while (i < data.length) {
    if (data[i] === 0) break; // NUL padding after the last record
    const space = data.indexOf(0x20, i);
    if (space === -1 || space - i > 20) throw new TarFormatError(`malformed PAX header at byte ${offset}`);
    const length = Number(data.toString("latin1", i, space));
    if (!Number.isSafeInteger(length) || length <= space - i + 1 || i + length > data.length || data[i + length - 1] !== 0x0a) {
      throw new TarFormatError(`malformed PAX header at byte ${offset}`);
    }
    const record = data.subarray(space + 1, i + length - 1);
    const eq = record.indexOf(0x3d);
    if (eq <= 0) throw new TarFormatError(`malformed PAX record at byte ${offset}`);
    records.set(record.toString("latin1", 0, eq), record.subarray(eq + 1));
    i += length;
  }
  return records;
}

/** A time as PAX writes it: whole seconds, or seconds and up to nine decimals (never `1e-7`). */
export function paxTime(seconds: number): string {
  if (Number.isInteger(seconds)) return String(seconds);
  return seconds.toFixed(9).replace(/0+$/, "");
}
