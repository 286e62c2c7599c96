/**
 * Real ffmpeg publishes to rinse over a real socket; what the server receives must be
 * exactly what ffprobe reports for the source file. Real ffmpeg plays the live path back.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FrameRecorder, startTestServer, waitFor, type RecordedFrame, type TestServer } from './support/server.js';
import { decodeReport, probePackets, startFfmpeg, testEncode, type ProbedPacket } from './support/media.js';

/** FLV AVC video bodies start with 5 bytes (frame/codec, AVCPacketType, composition time). */
const AVC_HEADER_BYTES = 5;
/** FLV AAC audio bodies start with 2 bytes (sound format, AACPacketType). */
const AAC_HEADER_BYTES = 2;

function asProbed(frame: RecordedFrame): Omit<ProbedPacket, 'size'> {
  const video = frame.kind === 'video';
  const body = frame.payload.subarray(video ? AVC_HEADER_BYTES : AAC_HEADER_BYTES);
  const ctsMs = video ? frame.payload.readIntBE(2, 3) : 0;
  return {
    codecType: frame.kind as 'audio' | 'video',
    dts: frame.timestampMs,
    pts: frame.timestampMs + ctsMs,
    keyframe: video ? frame.isKeyframe : true,
    md5: createHash('md5').update(body).digest('hex'),
  };
}

describe('ffmpeg publishes a 10 s 720p30 H.264 + AAC stream to rinse', () => {
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

  it('receives every audio and video frame with the payload bytes and timestamps ffprobe reports', async () => {
    const recorder = new FrameRecorder();
    srv.server.registry.subscribe('live/u1/s1', recorder);
    // -re: a live publisher, as the glasses are (blasting the file would also test ffmpeg closing
    // its socket with our unread acknowledgements in it, which resets the connection).
    const publisher = startFfmpeg(['-loglevel', 'error', '-re', '-i', source, '-c', 'copy', '-f', 'flv', srv.url('live/u1/s1')]);
    const result = await publisher.done;
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    await waitFor(() => recorder.unpublishes === 1, 10_000, 'the publish to end');

    const expectedVideo = probed.filter((p) => p.codecType === 'video').map(({ size: _s, ...p }) => p);
    const expectedAudio = probed.filter((p) => p.codecType === 'audio').map(({ size: _s, ...p }) => p);
    // 10 s at 30 fps and 44.1 kHz / 1024 samples per AAC frame.
    expect(expectedVideo.length).toBe(300);
    expect(expectedAudio.length).toBeGreaterThanOrEqual(430);

    // AVCPacketType 2 (end of sequence) is a marker, not a frame ffprobe lists.
    const videoFrames = recorder.media('video').filter((f) => f.payload[1] !== 2);
    expect(videoFrames.map(asProbed)).toEqual(expectedVideo);
    expect(recorder.media('audio').map(asProbed)).toEqual(expectedAudio);
    // Sequence headers arrive before the media they describe, and metadata came through.
    const firstVideoHeader = recorder.frames.findIndex((f) => f.kind === 'video' && f.isSequenceHeader);
    const firstVideo = recorder.frames.findIndex((f) => f.kind === 'video' && !f.isSequenceHeader);
    expect(firstVideoHeader).toBeGreaterThanOrEqual(0);
    expect(firstVideoHeader).toBeLessThan(firstVideo);
    expect(recorder.frames.some((f) => f.kind === 'data')).toBe(true);
    srv.server.registry.unsubscribe('live/u1/s1', recorder);
  });

  it('plays the live path back to ffmpeg (-c copy); the recording decodes with zero errors', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rinse-play-'));
    const out = join(dir, 'played.flv');
    const recorder = new FrameRecorder();
    srv.server.registry.subscribe('live/u2/s2', recorder);
    const publisher = startFfmpeg(['-loglevel', 'error', '-re', '-i', source, '-c', 'copy', '-f', 'flv', srv.url('live/u2/s2')]);
    // Join mid-stream: the player must get metadata and sequence headers, then the GOP from the latest keyframe.
    await waitFor(() => recorder.media('video').length >= 75, 15_000, 'the publisher to be 2.5 s in');
    const player = startFfmpeg(['-loglevel', 'error', '-i', srv.url('live/u2/s2'), '-c', 'copy', '-f', 'flv', '-y', out]);
    const [pub, play] = await Promise.all([publisher.done, player.done]);
    expect(pub.code).toBe(0);
    expect(play.stderr).toBe('');
    expect(play.code).toBe(0);
    const decoded = await decodeReport(out);
    expect(decoded.errors).toBe('');
    const played = await probePackets(out);
    const playedVideo = played.filter((p) => p.codecType === 'video');
    expect(playedVideo[0]?.keyframe).toBe(true);
    // From the latest keyframe on (GOP 2 s): at least the last 7.5 s of the 10 s source, all decoded.
    expect(playedVideo.length).toBeGreaterThanOrEqual(225);
    expect(decoded.videoFrames).toBe(playedVideo.length);
    // ffmpeg as a player validates the server's digest handshake (S1 and S2): it used it and accepted ours.
    expect(srv.logLines.filter((l) => l.msg === 'handshake done').every((l) => l.mode === 'digest')).toBe(true);
    srv.server.registry.unsubscribe('live/u2/s2', recorder);
  });
});
