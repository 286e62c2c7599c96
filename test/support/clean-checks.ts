/**
 * The fixer issue's acceptance checks for one output file, shared by `rinse fix` and relay
 * tests: `rinse inspect` accepts it; ffprobe shows strictly increasing video DTS and
 * non-decreasing audio DTS, keyframe intervals within [2, 10] s, no DTS step over 1 s and
 * |audio DTS - video DTS| <= 500 ms along the stream; `ffmpeg -v error -f null` prints nothing.
 */
import { expect } from 'vitest';
import { inspectFile } from '../../src/inspect/inspect-source.js';
import { ffmpegPath, probePackets, run, type ProbedPacket } from './media.js';

export async function expectCloudflareClean(file: string, opts: { minKeyframes?: number } = {}): Promise<ProbedPacket[]> {
  const report = await inspectFile(file);
  expect(report.verdict.reasons.filter((r) => r.severity === 'reject').map((r) => `${r.kind}: ${r.detail}`)).toEqual([]);
  expect(report.verdict.accept).toBe(true);

  const packets = await probePackets(file);
  expectCleanTimeline(packets, opts.minKeyframes ?? 2);

  const decoded = await run(ffmpegPath, ['-hide_banner', '-nostdin', '-v', 'error', '-i', file, '-f', 'null', '-']);
  expect(decoded.stderr).toBe('');
  return packets;
}

/**
 * The ffprobe part of the checks: strictly increasing video DTS and non-decreasing audio DTS
 * with no step over 1 s, keyframe intervals in [2, 10] s, A/V within 500 ms. Returns the
 * keyframe DTS list.
 */
export function expectCleanTimeline(packets: ProbedPacket[], minKeyframes = 2): number[] {
  const video = packets.filter((p) => p.codecType === 'video');
  const audio = packets.filter((p) => p.codecType === 'audio');
  expect(video.length).toBeGreaterThan(0);
  for (let i = 1; i < video.length; i++) {
    expect(video[i]!.dts, `video dts at ${i}`).toBeGreaterThan(video[i - 1]!.dts);
    expect(video[i]!.dts - video[i - 1]!.dts, `video step at ${video[i]!.dts}`).toBeLessThanOrEqual(1000);
  }
  for (let i = 1; i < audio.length; i++) {
    expect(audio[i]!.dts, `audio dts at ${i}`).toBeGreaterThanOrEqual(audio[i - 1]!.dts);
    expect(audio[i]!.dts - audio[i - 1]!.dts, `audio step at ${audio[i]!.dts}`).toBeLessThanOrEqual(1000);
  }
  // Keyframes as ffprobe judges them (FLV flag, NAL types and its own I-picture rule).
  const keys = video.filter((p) => p.keyframe).map((p) => p.dts);
  expect(keys.length).toBeGreaterThanOrEqual(minKeyframes);
  for (let i = 1; i < keys.length; i++) {
    const gap = keys[i]! - keys[i - 1]!;
    expect(gap, `keyframe interval ending at ${keys[i]}`).toBeGreaterThanOrEqual(2000);
    expect(gap, `keyframe interval ending at ${keys[i]}`).toBeLessThanOrEqual(10_000);
  }
  let lastVideo: number | null = null;
  let lastAudio: number | null = null;
  for (const p of packets) {
    if (p.codecType === 'video') lastVideo = p.dts;
    else lastAudio = p.dts;
    if (lastVideo !== null && lastAudio !== null) expect(Math.abs(lastAudio - lastVideo), `A/V at ${p.dts}`).toBeLessThanOrEqual(500);
  }
  return keys;
}
