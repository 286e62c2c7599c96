/**
 * An FLV file written as tags arrive (captures of incoming streams, local recordings).
 * Written to `<name>.partial` and renamed when closed, so a file without the suffix is
 * always complete. Write errors are reported once and stop the sink, never the stream.
 */
import { createWriteStream, mkdirSync, renameSync, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { FlvFileWriter } from '../flv/flv-writer.js';

export class FlvFileSink {
  readonly path: string;
  private readonly partial: string;
  private readonly stream: WriteStream;
  private readonly writer: FlvFileWriter;
  private readonly log: Logger;
  private failed = false;
  private closed = false;
  tags = 0;

  constructor(dir: string, name: string, logger: Logger) {
    mkdirSync(dir, { recursive: true });
    this.path = join(dir, name);
    this.partial = `${this.path}.partial`;
    this.log = logger;
    this.stream = createWriteStream(this.partial);
    this.stream.on('error', (err) => {
      if (this.failed) return;
      this.failed = true;
      this.log.error({ err: err.message, file: this.path }, 'file write failed: this file stops here');
    });
    this.writer = new FlvFileWriter(
      (bytes) => {
        if (!this.failed) this.stream.write(bytes);
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
    await new Promise<void>((resolve) => this.stream.end(() => resolve()));
    if (this.failed) return;
    try {
      renameSync(this.partial, this.path);
    } catch (err) {
      this.log.error({ err: (err as Error).message, file: this.path }, 'file rename failed');
    }
  }
}

/** A file-name-safe UTC stamp: 20261124T031500Z. */
export function fileStamp(date = new Date()): string {
  return date
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}
