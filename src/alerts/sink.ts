/** AlertSinks writing one line per alert to a stream: JSON (stdout for `replay` and `run`), or any text (`rules test`). */
import type { Writable } from 'node:stream';
import type { AlertDocument, AlertSink } from './types';

export class LinesSink implements AlertSink {
  private failed: Error | undefined;

  /** `line`: the alert's text, without the newline. `endOnClose`: end the stream on close (a file); false leaves stdout open. */
  constructor(
    private readonly out: Writable,
    private readonly line: (alert: AlertDocument) => string,
    private readonly endOnClose = false,
  ) {
    // A closed pipe (`keysentry replay x | head`) must not crash the pipeline.
    out.on('error', (err: Error) => {
      this.failed = err;
    });
  }

  write(alert: AlertDocument): void | Promise<void> {
    if (this.failed !== undefined) return undefined;
    if (this.out.write(this.line(alert) + '\n')) return undefined;
    return new Promise((resolve) => {
      const done = (): void => {
        this.out.off('drain', done);
        this.out.off('error', done);
        resolve();
      };
      this.out.on('drain', done);
      this.out.on('error', done);
    });
  }

  close(): Promise<void> {
    if (!this.endOnClose || this.failed !== undefined) return Promise.resolve();
    return new Promise((resolve) => this.out.end(() => resolve()));
  }
}

export class JsonLinesSink extends LinesSink {
  constructor(out: Writable, endOnClose = false) {
    super(out, (alert) => JSON.stringify(alert), endOnClose);
  }
}
