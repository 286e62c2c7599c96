/**
 * An FLV file written as tags arrive (captures of incoming streams, local recordings).
 * Written to `<name>.partial` and renamed when closed, so a file without the suffix is
 * always complete. A write error (a full disk: ENOSPC) closes the file where it stands, is
 * logged and reported once (`onWriteFailed`, for the metrics), and stops the sink, never the
 * stream: what was written stays as the `.partial`.
 */
import { createWriteStream, mkdirSync, renameSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { FlvFileWriter } from '../flv/flv-writer.js';

export class FlvFileSink {
  readonly path: string;
  private readonly partial: string;
  private readonly stream: WriteStream | null;
  private readonly writer: FlvFileWriter;
  private readonly log: Logger;
  private readonly onWriteFailed: (code: string) => void;
  private failed = false;
  private closed = false;
  tags = 0;

  /** `onWriteFailed` is told the error code (ENOSPC, EACCES...) once, when the file stops. */
  constructor(dir: string, name: string, logger: Logger, onWriteFailed: (code: string) => void = () => {}) {
    this.path = join(dir, name);
    this.partial = `${this.path}.partial`;
    this.log = logger;
    this.onWriteFailed = onWriteFailed;
    let stream: WriteStream | null = null;
    try {
      mkdirSync(dir, { recursive: true });
      stream = createWriteStream(this.partial);
      // The stream closes its descriptor itself after an error (autoDestroy).
      stream.on('error', (err) => this.fail(err));
    } catch (err) {
      this.fail(err as Error);
    }
    this.stream = stream;
    this.writer = new FlvFileWriter(
      (bytes) => {
        if (!this.failed) this.stream?.write(bytes);
      },
      { hasAudio: true, hasVideo: true },
    );
  }

  get bytesWritten(): number {
    return this.writer.bytesWritten;
  }

  writeTag(tagType: number, timestampMs: number, data: Buffer): void {
    if (this.closed || this.failed) return;
    this.writer.writeTag({ tagType, timestampMs, data });
    this.tags++;
  }

  /** Finish the file and give it its final name. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const stream = this.stream;
    if (stream !== null) await new Promise<void>((resolve) => stream.end(() => resolve()));
    if (this.failed) return;
    try {
      renameSync(this.partial, this.path);
    } catch (err) {
      this.log.error({ err: (err as Error).message, file: this.path }, 'file rename failed');
    }
  }

  private fail(err: NodeJS.ErrnoException): void {
    if (this.failed) return;
    this.failed = true;
    const code = err.code ?? 'UNKNOWN';
    this.log.error(
      { code, err: err.message, file: this.partial, tags: this.tags },
      'file write failed: this file stops here',
    );
    this.onWriteFailed(code);
  }
}

/** A file-name-safe UTC stamp: 20261124T031500Z. */
export function fileStamp(date = new Date()): string {
  return date
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}
