/**
 * Local mode's destination: the cleaned stream is published into the server's own registry
 * at clean/{userId}/{streamId} (so any RTMP player can watch what Cloudflare would get) and
 * recorded to `{recordingsDir}/{userId}-{streamId}-{stamp}.flv`.
 */
import type { Logger } from 'pino';
import type { LiveStream, LiveStreamRegistry } from '../live/live-streams.js';
import type { StreamPublisher } from '../rtmp/stream-hub.js';
import { FlvFileSink, fileStamp } from './flv-file-sink.js';
import { TAG_AUDIO, TAG_SCRIPT, type MediaTag } from '../media/tag-kinds.js';

let nextLocalId = 1;

export class LocalOutput implements StreamPublisher {
  readonly id = `local${nextLocalId++}`;
  readonly playPath: string;
  private readonly registry: LiveStreamRegistry;
  private readonly live: LiveStream;
  private readonly recording: FlvFileSink | null;
  private closed = false;

  constructor(opts: {
    registry: LiveStreamRegistry;
    playPath: string;
    recordingsDir: string | null;
    fileName: string;
    logger: Logger;
    /** The recording stopped on a write error (its code). */
    onWriteFailed?: (code: string) => void;
  }) {
    this.registry = opts.registry;
    this.playPath = opts.playPath;
    this.live = opts.registry.publish(opts.playPath, this);
    this.recording =
      opts.recordingsDir === null
        ? null
        : new FlvFileSink(opts.recordingsDir, `${opts.fileName}-${fileStamp()}.flv`, opts.logger, opts.onWriteFailed);
  }

  get recordingPath(): string | null {
    return this.recording?.path ?? null;
  }

  send(tag: MediaTag): void {
    if (this.closed) return;
    this.recording?.writeTag(tag.tagType, tag.timestampMs, tag.data);
    if (tag.tagType === TAG_SCRIPT) this.live.pushMetadata(tag.timestampMs, tag.data);
    else this.live.pushMedia(tag.tagType === TAG_AUDIO ? 'audio' : 'video', tag.timestampMs, tag.data);
  }

  replaced(): void {
    // Only the relay session publishes clean/ paths; nothing to do.
  }

  endStalled(): void {
    // Not a network publisher.
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.registry.unpublish(this.playPath, this);
    await this.recording?.close();
  }
}
