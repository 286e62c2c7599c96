/**
 * Upstream backpressure with real sockets: a TCP proxy between the relay's upstream client
 * and an RTMP server stops reading, so the upstream socket backs up. The upstream must keep
 * its send queue bounded (maxQueuedBytes plus one frame), drop whole frames and count them,
 * and start again at a keyframe once the receiver reads again.
 */
import { connect, createServer, type Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { readFlv } from '../src/flv/flv-reader.js';
import { classifyVideo } from '../src/flv/media-tag.js';
import { Upstream } from '../src/relay/upstream.js';
import { RtmpServer } from '../src/rtmp/server.js';
import { LiveStreamRegistry } from '../src/live/live-streams.js';
import type { MediaFrame } from '../src/media/tag-kinds.js';
import { ensureFixtures } from '../fixtures/generate.js';
import { waitFor } from './support/processes.js';

const QUEUE_LIMIT = 256 * 1024;

describe('Upstream under a receiver that stops reading', () => {
  it('bounds its queue, drops whole frames to the next keyframe, counts them, and resumes at a keyframe', async () => {
    const manifest = await ensureFixtures();
    const source = manifest.find((f) => f.name === 'clean-720p30')!.file;
    const tags = readFlv(readFileSync(source)).tags.filter((t) => t.tagType !== 18);
    const spanMs = tags[tags.length - 1]!.timestampMs + 40;
    const logger = pino({ level: 'silent' });

    const hub = new LiveStreamRegistry();
    const server = new RtmpServer({ host: '127.0.0.1', port: 0, hub, logger });
    const { port: serverPort } = await server.listen();
    const received: MediaFrame[] = [];
    hub.subscribe('live/bp/test', { onFrame: (f) => received.push(f) });
    let relaySide: Socket | null = null;
    let serverSide: Socket | null = null;
    const proxy = createServer((socket) => {
      relaySide = socket;
      serverSide = connect(serverPort, '127.0.0.1');
      // Either side may go first at the end: a write after the other side closed is not a failure here.
      socket.on('error', () => {});
      serverSide.on('error', () => {});
      socket.pipe(serverSide);
      serverSide.pipe(socket);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    const proxyPort = (proxy.address() as { port: number }).port;

    const upstream = new Upstream({
      url: `rtmp://127.0.0.1:${proxyPort}/live/bp/test`,
      logger,
      maxQueuedBytes: QUEUE_LIMIT,
    });
    upstream.start();
    try {
      await waitFor(() => upstream.connected, 'the upstream session');
      let offset = 0;
      let maxQueued = 0;
      let biggest = 0;
      const feed = async (passes: number): Promise<void> => {
        for (let p = 0; p < passes; p++) {
          for (const t of tags) {
            upstream.send({ tagType: t.tagType, timestampMs: t.timestampMs + offset, data: t.data });
            maxQueued = Math.max(maxQueued, upstream.queuedBytes);
            biggest = Math.max(biggest, t.data.length);
          }
          offset += spanMs;
          await new Promise((r) => setImmediate(r));
        }
      };
      await feed(1);
      await waitFor(() => received.length >= tags.length - 5, 'the first pass at the receiver');

      // The receiver stops reading: the kernel buffers fill, then the upstream's own queue.
      (relaySide as unknown as Socket).unpipe(serverSide as unknown as Socket);
      (relaySide as unknown as Socket).pause();
      await feed(40); // about 85 MB of media offered
      const dropped = upstream.stats.framesDroppedBackpressure;
      expect(dropped).toBeGreaterThan(1000);
      expect(maxQueued).toBeLessThanOrEqual(QUEUE_LIMIT + biggest + 64 * 1024);

      // Reading again: sending resumes, from a keyframe.
      (relaySide as unknown as Socket).pipe(serverSide as unknown as Socket);
      await waitFor(() => upstream.queuedBytes === 0, 'the queue to drain');
      const resumeFromMs = offset;
      await feed(2);
      // Wait for the frames sent after the resume (the kernel buffers hand over older ones first).
      await waitFor(
        () => received.filter((f) => f.kind === 'video' && f.timestampMs >= resumeFromMs + spanMs).length > 30,
        'frames after the resume',
      );
      const video = received.filter((f) => f.kind === 'video' && !f.isSequenceHeader);
      // Every place where frames went missing is followed by a keyframe.
      let gaps = 0;
      for (let i = 1; i < video.length; i++) {
        if (video[i]!.timestampMs - video[i - 1]!.timestampMs > 100) {
          gaps++;
          expect(classifyVideo(video[i]!.payload).isKeyframe, `frame after the gap at ${video[i]!.timestampMs}`).toBe(
            true,
          );
        }
      }
      expect(gaps).toBeGreaterThan(0);
      console.log(
        `backpressure: ${dropped} frames dropped, queue peaked at ${maxQueued} bytes (limit ${QUEUE_LIMIT}, largest frame ${biggest})`,
      );
    } finally {
      await upstream.close();
      (relaySide as Socket | null)?.destroy();
      (serverSide as Socket | null)?.destroy();
      await new Promise<void>((r) => proxy.close(() => r()));
      await server.close();
    }
  });
});
