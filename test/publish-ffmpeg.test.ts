/**
 * Real ffmpeg publishes to rinse over a real socket; what the server receives must be
 * exactly what ffprobe reports for the source file. Real ffmpeg plays the live path back.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFlv } from '../src/flv/flv-reader.js';
import { encodeFlv } from '../src/flv/flv-writer.js';
import { FrameRecorder, startTestServer, waitFor, type RecordedFrame, type TestServer } from './support/server.js';
import { JUDGES, decodeWith } from './support/judges.js';
import {
  decodeReport,
  ffmpegPath,
  probePackets,
  run,
  startFfmpeg,
  testEncode,
  type ProbedPacket,
  startLivePublisher,
} from './support/media.js';
import { expectReceiverClean } from './support/processes.js';

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
    srv.registry.subscribe('live/u1/s1', recorder);
    // -re: a live publisher, as the glasses are (blasting the file would also test ffmpeg closing
    // its socket with our unread acknowledgements in it, which resets the connection).
    const publisher = startLivePublisher(source, srv.url('live/u1/s1'));
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
    srv.registry.unsubscribe('live/u1/s1', recorder);
  });

  it("plays the live path back to ffmpeg (-c copy): every source packet from a keyframe on, decoding as FFmpeg's own copy of those bytes does", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rinse-play-'));
    const out = join(dir, 'played.flv');
    const recorder = new FrameRecorder();
    srv.registry.subscribe('live/u2/s2', recorder);
    const publisher = startLivePublisher(source, srv.url('live/u2/s2'));
    // Join mid-stream: the player must get metadata and sequence headers, then the GOP from the latest keyframe.
    await waitFor(() => recorder.media('video').length >= 75, 15_000, 'the publisher to be 2.5 s in');
    const player = startFfmpeg([
      '-loglevel',
      'error',
      '-i',
      srv.url('live/u2/s2'),
      '-c',
      'copy',
      '-f',
      'flv',
      '-y',
      out,
    ]);
    const [pub, play] = await Promise.all([publisher.done, player.done]);
    expect(pub.code).toBe(0);
    expectReceiverClean(play, 'player');
    // What rinse delivered: from a keyframe on, every source packet, bytes and timing alike.
    const played = (await probePackets(out)).filter((p) => p.codecType === 'video');
    const sourceVideo = probed.filter((p) => p.codecType === 'video');
    const start = sourceVideo.findIndex((p) => p.md5 === played[0]?.md5);
    expect(start, 'the played stream starts at a source frame').toBeGreaterThanOrEqual(0);
    expect(sourceVideo[start]?.keyframe, 'at a source keyframe').toBe(true);
    const shift = (sourceVideo[start] as ProbedPacket).dts - (played[0] as ProbedPacket).dts;
    const rel = (list: ProbedPacket[]): string[] => list.map((p) => `${p.md5} ${p.dts} ${p.pts}`);
    expect(rel(played)).toEqual(
      rel(
        sourceVideo.slice(start, start + played.length).map((p) => ({ ...p, dts: p.dts - shift, pts: p.pts - shift })),
      ),
    );
    // Decoding: this raw (unrepaired) path carries the publisher's B-frames, and a recording
    // that starts at a keyframe of a B-frame stream makes FFmpeg's own decode pipeline print
    // "non monotonically increasing dts to muxer" lines. So the judge is FFmpeg's own copy of
    // the same bytes: the source's tags from that keyframe on (headers first), remuxed by the
    // same ffmpeg as the player; the recording must decode exactly as well as that.
    const keyMs = (sourceVideo[start] as ProbedPacket).dts;
    const sourceTags = readFlv(readFileSync(source)).tags;
    const headers = sourceTags.filter(
      (t) => t.tagType === 18 || (t.tagType !== 18 && t.data[1] === 0 && t.timestampMs <= keyMs),
    );
    const fromKey = sourceTags.filter((t) => t.timestampMs >= keyMs && !headers.includes(t));
    const cutFile = join(dir, 'cut.flv');
    writeFileSync(
      cutFile,
      encodeFlv(
        { hasAudio: true, hasVideo: true },
        [...headers, ...fromKey].map((t) => ({ tagType: t.tagType, timestampMs: t.timestampMs, data: t.data })),
      ),
    );
    const reference = join(dir, 'reference.flv');
    const remux = await run(ffmpegPath, [
      '-hide_banner',
      '-nostdin',
      '-v',
      'error',
      '-y',
      '-i',
      cutFile,
      '-c',
      'copy',
      '-f',
      'flv',
      reference,
    ]);
    expect(remux.code).toBe(0);
    expect(
      (await probePackets(reference)).find((p) => p.codecType === 'video')?.md5,
      'the reference starts at the same keyframe',
    ).toBe(played[0]?.md5);
    const sameLines = (r: { errorLines: string[] }): string[] =>
      r.errorLines.map((l) => l.replace(/0x[0-9a-f]+/g, '0x'));
    for (const judge of JUDGES) {
      const [ours, theirs] = await Promise.all([decodeWith(judge, out), decodeWith(judge, reference)]);
      expect(ours.code, `${judge.label}: exit code`).toBe(0);
      console.log(
        `raw playback, ${judge.label}: ${ours.errorLines.length} decode lines, FFmpeg's own copy ${theirs.errorLines.length}`,
      );
      expect(sameLines(ours), `${judge.label}: decoding the recording vs FFmpeg's own copy`).toEqual(sameLines(theirs));
    }
    for (const judge of JUDGES) {
      const decoded = await decodeReport(out, judge.ffprobe);
      expect(decoded.errors, `${judge.label}: ffprobe -count_frames errors`).toBe('');
      const playedVideo = (await probePackets(out, judge.ffprobe)).filter((p) => p.codecType === 'video');
      expect(playedVideo[0]?.keyframe, `${judge.label}: first played frame is key`).toBe(true);
      // From the latest keyframe on (GOP 2 s): at least the last 7.5 s of the 10 s source, all decoded.
      expect(playedVideo.length, judge.label).toBeGreaterThanOrEqual(225);
      expect(decoded.videoFrames, `${judge.label}: decoded video frames`).toBe(playedVideo.length);
    }
    // ffmpeg as a player validates the server's digest handshake (S1 and S2): it used it and accepted ours.
    expect(srv.logLines.filter((l) => l.msg === 'handshake done').every((l) => l.mode === 'digest')).toBe(true);
    srv.registry.unsubscribe('live/u2/s2', recorder);
  });
});
