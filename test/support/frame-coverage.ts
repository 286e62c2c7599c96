/**
 * Which of a publisher's video frames reached the receiver runs of an outage test: frames are
 * told apart by the MD5 of their NAL data (the relay passes a clean stream's NALs untouched;
 * the receivers rebase timestamps, so DTS cannot say which frame is which). A receiver killed
 * mid-stream leaves a truncated file: only its complete tags count.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import { FlvReader, type FlvTag } from '../../src/flv/flv-reader.js';

const AVC_NALU = 1;
/** Frame type + codec id, AVCPacketType, composition time: the NAL data starts after them. */
const AVC_HEADER_BYTES = 5;

export interface VideoFrameId {
  md5: string;
  dtsMs: number;
  keyframe: boolean;
}

/** The complete tags of an FLV file, which may end in the middle of one. */
export function completeTags(file: string): FlvTag[] {
  const tags: FlvTag[] = [];
  const reader = new FlvReader({ onTag: (t) => tags.push(t) });
  reader.push(readFileSync(file));
  return tags;
}

/** The coded video frames of a file (no sequence headers), in file order. */
export function videoFrames(file: string): VideoFrameId[] {
  return completeTags(file)
    .filter((t) => t.tagType === 9 && t.data.length > AVC_HEADER_BYTES && t.data[1] === AVC_NALU)
    .map((t) => ({
      md5: createHash('md5').update(t.data.subarray(AVC_HEADER_BYTES)).digest('hex'),
      dtsMs: t.timestampMs,
      keyframe: t.data[0]! >> 4 === 1,
    }));
}

export interface RunCoverage {
  file: string;
  frames: number;
  /** Index in the source of the first and last frame this run got. */
  first: number;
  last: number;
  /** Places where the run's source index did not go up by exactly one (a skipped or repeated frame). */
  outOfOrder: string[];
  /** Places where the run's DTS did not increase. */
  dtsBack: string[];
  /** Frames not from the source at all. */
  unknown: number;
  /** How far the run's DTS strayed from the source's, both counted from the run's first frame, in ms. */
  driftMs: number;
}

export interface Coverage {
  sourceFrames: number;
  runs: RunCoverage[];
  /** Source indexes no run got. */
  missing: number[];
  /** Source frames that more than one run got (resent from the keyframe before the outage). */
  resent: number;
}

/** Which source video frames each receiver run got, and what none got. */
export function frameCoverage(sourceFile: string, receiverFiles: string[]): Coverage {
  const source = videoFrames(sourceFile);
  const index = new Map<string, number>();
  source.forEach((f, i) => {
    if (index.has(f.md5)) throw new Error(`source frames ${index.get(f.md5)} and ${i} are identical`);
    index.set(f.md5, i);
  });
  const got = new Array<number>(source.length).fill(0);
  const runs = receiverFiles.map((file): RunCoverage => {
    const frames = videoFrames(file);
    const run: RunCoverage = {
      file,
      frames: frames.length,
      first: -1,
      last: -1,
      outOfOrder: [],
      dtsBack: [],
      unknown: 0,
      driftMs: 0,
    };
    let previous: { i: number; dts: number } | null = null;
    let firstDts = 0;
    for (const f of frames) {
      const i = index.get(f.md5);
      if (i === undefined) {
        run.unknown++;
        continue;
      }
      got[i]!++;
      if (run.first < 0) {
        run.first = i;
        firstDts = f.dtsMs;
      }
      run.last = i;
      const drift = Math.abs(f.dtsMs - firstDts - (source[i]!.dtsMs - source[run.first]!.dtsMs));
      run.driftMs = Math.max(run.driftMs, drift);
      if (previous !== null) {
        if (i !== previous.i + 1) run.outOfOrder.push(`${previous.i} -> ${i}`);
        if (f.dtsMs <= previous.dts) run.dtsBack.push(`frame ${i}: ${previous.dts} -> ${f.dtsMs} ms`);
      }
      previous = { i, dts: f.dtsMs };
    }
    return run;
  });
  const missing = got.flatMap((n, i) => (n === 0 ? [i] : []));
  return { sourceFrames: source.length, runs, missing, resent: got.filter((n) => n > 1).length };
}

/** One line for the test log. */
export function coverageLine(name: string, c: Coverage): string {
  const runs = c.runs.map((r) => `${r.frames} frames [${r.first}..${r.last}]`).join(', ');
  return `${name}: ${c.sourceFrames - c.missing.length} of ${c.sourceFrames} video frames reached the receivers (${runs}); ${c.missing.length} missing, ${c.resent} resent`;
}

/**
 * Each receiver run holds only source frames, in order, with no DTS step back and the
 * source's spacing (a clean stream from 0), and together they miss no video frame.
 */
export function expectCleanRuns(coverage: Coverage): void {
  for (const run of coverage.runs) {
    expect(run.unknown, `${run.file}: frames not from the source`).toBe(0);
    expect(run.outOfOrder, `${run.file}: frames out of order`).toEqual([]);
    expect(run.dtsBack, `${run.file}: DTS steps back`).toEqual([]);
    expect(run.driftMs, `${run.file}: DTS drift from the source`).toBeLessThanOrEqual(2);
  }
  expect(coverage.missing, 'video frames that reached no receiver').toEqual([]);
}
