/**
 * An append-only line file rotated by size AND age: name -> name.1 -> ... -> name.N, the
 * oldest deleted. winston's File transport only rotates by size and writes asynchronously;
 * the agent writes each line synchronously so an alert logged before a crash is on disk, and
 * so rotation happens exactly between two lines.
 *
 * A failing disk never throws into the agent: lines that cannot be written are counted.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import Transport = require('winston-transport');

export interface RotationLimits {
  /** Rotate before a write would take the file past this many bytes. */
  maxSizeBytes: number;
  /** Rotate a file older than this (ms since it was created); 0 = never by age. */
  maxAgeMs: number;
  /** Rotated files kept. */
  maxFiles: number;
}

export class RotatingFile {
  private fd = -1;
  private size = 0;
  private createdAt = 0;
  /** Lines that could not be written (disk full, directory gone). */
  dropped = 0;
  /** The last write or rotation error, for the agent's status. */
  lastError: string | null = null;

  /** Throws, naming the file, when it cannot be opened at all: the agent must not start blind. */
  constructor(
    readonly file: string,
    private readonly limits: RotationLimits,
    private readonly now: () => number = Date.now,
  ) {
    try {
      this.open();
    } catch (err) {
      throw new Error(`${file}: cannot open the log (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
    }
  }

  private open(): void {
    fs.mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o750 });
    this.fd = fs.openSync(this.file, 'a', 0o640);
    const stat = fs.fstatSync(this.fd);
    this.size = stat.size;
    // birthtime is 0 where the filesystem does not record it; mtime is the best bound then.
    this.createdAt = stat.size === 0 ? this.now() : stat.birthtimeMs > 0 ? stat.birthtimeMs : stat.mtimeMs;
  }

  private rotated(index: number): string {
    return `${this.file}.${index}`;
  }

  private rotate(): void {
    fs.closeSync(this.fd);
    this.fd = -1;
    try {
      fs.rmSync(this.rotated(this.limits.maxFiles), { force: true });
      for (let index = this.limits.maxFiles - 1; index >= 1; index--) {
        if (fs.existsSync(this.rotated(index))) fs.renameSync(this.rotated(index), this.rotated(index + 1));
      }
      fs.renameSync(this.file, this.rotated(1));
    } finally {
      this.open();
    }
  }

  private due(bytes: number): boolean {
    if (this.size === 0) return false;
    if (this.size + bytes > this.limits.maxSizeBytes) return true;
    return this.limits.maxAgeMs > 0 && this.now() - this.createdAt >= this.limits.maxAgeMs;
  }

  /** Appends `line` and a newline; never throws. */
  writeLine(line: string): void {
    const data = Buffer.from(`${line}\n`, 'utf8');
    try {
      if (this.fd < 0) this.open();
      if (this.due(data.length)) this.rotate();
      fs.writeSync(this.fd, data);
      this.size += data.length;
    } catch (err) {
      this.dropped++;
      this.lastError = `${this.file}: ${(err as Error).message}`;
    }
  }

  close(): void {
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
  }
}

const MESSAGE = Symbol.for('message');

/** winston transport over a RotatingFile: writes each record's final formatted line. */
export class RotatingFileTransport extends Transport {
  constructor(
    readonly output: RotatingFile,
    options: Transport.TransportStreamOptions = {},
  ) {
    super(options);
  }

  override log(info: Record<string | symbol, unknown>, next: () => void): void {
    this.output.writeLine(String(info[MESSAGE]));
    next();
  }

  override close(): void {
    this.output.close();
  }
}
