/**
 * An in-process rinse RTMP server on 127.0.0.1 with a free port, a logger that keeps
 * its lines for assertions, and a subscriber that records every frame of a path.
 */
import { Writable } from 'node:stream';
import { createHash } from 'node:crypto';
import { createLogger } from '../../src/log.js';
import { RtmpServer, type ServerLimits } from '../../src/rtmp/server.js';
import { LiveStreamRegistry } from '../../src/live/live-streams.js';
import type { MediaFrame } from '../../src/media/tag-kinds.js';
import type { StreamSubscriber } from '../../src/rtmp/stream-hub.js';
import type { SessionCloseInfo } from '../../src/rtmp/session-context.js';

export interface TestServer {
  server: RtmpServer;
  /** The live hub the server publishes to. */
  registry: LiveStreamRegistry;
  port: number;
  url(path: string): string;
  logLines: Array<Record<string, unknown>>;
  closed: SessionCloseInfo[];
  stop(): Promise<void>;
}

export interface TestServerOptions {
  /** Publish tokens are required when set. */
  publishSecrets?: readonly string[];
  /** The hub's stale time for publisher replacement, in ms. */
  staleAfterMs?: number;
}

export async function startTestServer(
  limits: Partial<ServerLimits> = {},
  options: TestServerOptions = {},
): Promise<TestServer> {
  const logLines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n'))
        if (line) logLines.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  const logger = createLogger({ level: 'debug', destination: sink });
  const registry = new LiveStreamRegistry(
    options.staleAfterMs !== undefined ? { staleAfterMs: options.staleAfterMs } : {},
  );
  const server = new RtmpServer({
    host: '127.0.0.1',
    port: 0,
    hub: registry,
    logger,
    limits,
    ...(options.publishSecrets ? { publishSecrets: options.publishSecrets } : {}),
  });
  const closed: SessionCloseInfo[] = [];
  server.on('sessionClosed', (info) => closed.push(info));
  const address = await server.listen();
  return {
    server,
    registry,
    port: address.port,
    url: (path) => `rtmp://127.0.0.1:${address.port}/${path}`,
    logLines,
    closed,
    stop: () => server.close(),
  };
}

export interface RecordedFrame {
  kind: MediaFrame['kind'];
  timestampMs: number;
  isKeyframe: boolean;
  isSequenceHeader: boolean;
  size: number;
  /** MD5 of the whole message body. */
  md5: string;
  payload: Buffer;
}

/** Records every frame of one path (attach before the publisher starts to see all of them). */
export class FrameRecorder implements StreamSubscriber {
  readonly frames: RecordedFrame[] = [];
  publishes = 0;
  unpublishes = 0;

  onPublishStart(): void {
    this.publishes++;
  }

  onPublishEnd(): void {
    this.unpublishes++;
  }

  onFrame(frame: MediaFrame): void {
    this.frames.push({
      kind: frame.kind,
      timestampMs: frame.timestampMs,
      isKeyframe: frame.isKeyframe,
      isSequenceHeader: frame.isSequenceHeader,
      size: frame.payload.length,
      md5: createHash('md5').update(frame.payload).digest('hex'),
      payload: frame.payload,
    });
  }

  media(kind: 'audio' | 'video'): RecordedFrame[] {
    return this.frames.filter((f) => f.kind === kind && !f.isSequenceHeader);
  }
}

/** Resolve when `predicate` holds, polling; reject after `timeoutMs`. */
export async function waitFor(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const start = Date.now();
  while (!predicate()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
