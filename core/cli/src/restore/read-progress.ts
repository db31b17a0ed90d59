import { formatBytes, type Logger } from "@sov/core";

export interface ReadProgressOptions {
  /** A terminal: redraw one status line in place. Otherwise log one line a minute. */
  tty: boolean;
  write: (text: string) => void;
  log: Logger;
  intervalMs?: number;
}

/**
 * How far restore has read an archive: from S3 or over SFTP a large archive takes minutes, and
 * a silent restore looks hung. Counts the bytes of the archive stream as they arrive (the
 * encrypted file, before decoding), so the figure is the download's.
 */
export class ReadProgress {
  private bytes = 0;
  private readonly started = Date.now();
  private drawn = false;
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly name: string,
    private readonly size: number | undefined,
    private readonly opts: ReadProgressOptions,
  ) {
    this.timer = setInterval(() => this.report(), opts.intervalMs ?? (opts.tty ? 500 : 60_000));
    this.timer.unref();
  }

  /** Counts bytes of the archive as they arrive (see `OpenOptions.onRead`). */
  readonly count = (bytes: number): void => {
    this.bytes += bytes;
  };

  line(now = Date.now()): string {
    const seconds = Math.max((now - this.started) / 1000, 0.001);
    const of = this.size ? ` of ${formatBytes(this.size)} (${Math.min(100, Math.floor((this.bytes / this.size) * 100))}%)` : "";
    return `reading ${this.name}: ${formatBytes(this.bytes)}${of}, ${formatBytes(this.bytes / seconds)}/s`;
  }

  /** Ends the line (idempotent): the result that follows is printed on a clean line. */
  stop(): void {
    clearInterval(this.timer);
    if (this.drawn) this.opts.write("\r\x1b[K");
    this.drawn = false;
  }

  private report(): void {
    if (this.opts.tty) {
      this.opts.write(`\r\x1b[K${this.line()}`);
      this.drawn = true;
    } else {
      this.opts.log.info(`progress: ${this.line()}`);
    }
  }
}
