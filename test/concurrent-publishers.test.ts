/**
 * Many concurrent sessions: 20 real ffmpeg publishers stream the 10 s test encode in real
 * time to 20 paths at once; every frame of every stream must arrive, byte for byte.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RtmpErrorCode } from '../src/rtmp/errors.js';
import { FrameRecorder, startTestServer, waitFor, type TestServer } from './support/server.js';
import { probePackets, testEncode, type ProbedPacket, startLivePublisher } from './support/media.js';
import { createHash } from 'node:crypto';

const PUBLISHERS = 20;

describe(`${PUBLISHERS} concurrent publishers`, () => {
  let srv: TestServer;
  let source: string;
  let probed: ProbedPacket[];

  beforeAll(async () => {
    source = await testEncode();
    probed = await probePackets(source);
    srv = await startTestServer();
  });
  afterAll(async () => {
    await srv.stop();
  });

  it('stream for 10 s and every frame arrives', async () => {
    const recorders: FrameRecorder[] = [];
    const publishers = [];
    for (let i = 0; i < PUBLISHERS; i++) {
      const recorder = new FrameRecorder();
      recorders.push(recorder);
      srv.registry.subscribe(`live/user${i}/stream${i}`, recorder);
      publishers.push(startLivePublisher(source, srv.url(`live/user${i}/stream${i}`), 90_000));
    }
    await waitFor(() => srv.registry.publishedPaths().length === PUBLISHERS, 15_000, 'all publishers to be live');
    const results = await Promise.all(publishers.map((p) => p.done));
    for (const r of results) {
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
    }
    await waitFor(() => recorders.every((r) => r.unpublishes === 1), 15_000, 'every publish to end');

    const expectedVideo = probed.filter((p) => p.codecType === 'video').map((p) => `${p.dts}:${p.md5}`);
    const expectedAudio = probed.filter((p) => p.codecType === 'audio').map((p) => `${p.dts}:${p.md5}`);
    const bodyMd5 = (b: Buffer, skip: number): string => createHash('md5').update(b.subarray(skip)).digest('hex');
    for (const recorder of recorders) {
      const video = recorder
        .media('video')
        .filter((f) => f.payload[1] !== 2)
        .map((f) => `${f.timestampMs}:${bodyMd5(f.payload, 5)}`);
      const audio = recorder.media('audio').map((f) => `${f.timestampMs}:${bodyMd5(f.payload, 2)}`);
      expect(video).toEqual(expectedVideo);
      expect(audio).toEqual(expectedAudio);
    }
    // Every frame of every publisher arrived (above). FFmpeg 5.1 as the publisher sometimes
    // closes its socket while a last message is still partial (after its deleteStream: no
    // source frame is missing); rinse rightly calls that ERR_RTMP_TRUNCATED. That code, and
    // only it, is allowed here, since the frames already show nothing was lost.
    expect(srv.closed.filter((c) => c.code !== undefined && c.code !== RtmpErrorCode.TRUNCATED)).toEqual([]);
  });
});
