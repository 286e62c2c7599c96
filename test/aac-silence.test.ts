/**
 * Silent AAC frames, judged by every FFmpeg (test/support/judges.ts): an FLV of the
 * AudioSpecificConfig sequence header and ~100 silent frames at 1024-sample timestamps
 * decodes with no error line to exactly frames x samplesPerFrame x channels samples, every
 * one exactly 0.0 (f32le, so no rounding to 16 bits can hide a small value). FFmpeg's AAC
 * decoder has no priming or delay to allow for in FLV: without an edit list it skips
 * nothing, and each frame's output is its overlap-add with the previous one, so the count
 * is exact. Then silence spliced into real AAC (FFmpeg's encoder, beeps for window
 * switching): clean decodes, and from the second silent frame of each gap on, exact zeros.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildAudioSpecificConfig, parseAudioSpecificConfig } from '../src/flv/aac-config.js';
import { silentAacFrame } from '../src/flv/aac-silence.js';
import { readFlv } from '../src/flv/flv-reader.js';
import { buildAacAudioTagBody, parseAudioTagBody } from '../src/flv/flv-tag.js';
import { encodeFlv, type FlvTagInit } from '../src/flv/flv-writer.js';
import { runTool } from '../src/tools/run-tool.js';
import { JUDGES, type Judge } from './support/judges.js';
import { ffmpegPath, run } from './support/media.js';

const FLV_TAG_AUDIO = 8;
const FRAMES = 100;
const DECODE_TIMEOUT_MS = 30_000;
const dir = mkdtempSync(join(tmpdir(), 'rinse-aac-silence-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** An audio-only FLV: the sequence header, then the frames at their sample-clock times. */
function aacFlv(asc: Buffer, frames: readonly Buffer[], samplesPerFrame: number, sampleRate: number): Buffer {
  const tags: FlvTagInit[] = [
    { tagType: FLV_TAG_AUDIO, timestampMs: 0, data: buildAacAudioTagBody({ packetType: 0, data: asc }) },
  ];
  frames.forEach((data, i) => {
    // From the sample count, not by adding rounded durations: no drift.
    const timestampMs = Math.round((i * samplesPerFrame * 1000) / sampleRate);
    tags.push({ tagType: FLV_TAG_AUDIO, timestampMs, data: buildAacAudioTagBody({ packetType: 1, data }) });
  });
  return encodeFlv({ hasAudio: true, hasVideo: false }, tags);
}

interface PcmDecode {
  code: number | null;
  errorLines: string[];
  /** Interleaved 32-bit float samples as the judge decoded them. */
  samples: Float32Array;
}

/** The judge's decode to raw f32le on stdout, with `-v error` as the decodes rule runs it. */
async function decodePcm(judge: Judge, file: string): Promise<PcmDecode> {
  const r = await runTool(
    judge.ffmpeg,
    ['-hide_banner', '-nostdin', '-v', 'error', '-i', file, '-f', 'f32le', '-'],
    DECODE_TIMEOUT_MS,
  );
  const pcm = Buffer.from(r.stdout); // a copy is aligned for the float view
  return {
    code: r.code,
    errorLines: r.stderr.split('\n').filter((l) => l.trim() !== ''),
    samples: new Float32Array(pcm.buffer, pcm.byteOffset, pcm.length >> 2),
  };
}

function nonZero(samples: Float32Array, from = 0, to = samples.length): number {
  let n = 0;
  for (let i = from; i < to; i++) if (samples[i] !== 0) n++;
  return n;
}

interface SilenceCase {
  name: string;
  objectType: number;
  sampleRate: number;
  channelConfig: number;
  frameLength960?: boolean;
  commonWindow?: boolean;
}

const CASES: SilenceCase[] = [
  { name: 'LC mono 44.1 kHz', objectType: 2, sampleRate: 44100, channelConfig: 1 },
  { name: 'LC stereo 44.1 kHz', objectType: 2, sampleRate: 44100, channelConfig: 2 },
  { name: 'LC mono 48 kHz', objectType: 2, sampleRate: 48000, channelConfig: 1 },
  { name: 'LC stereo 48 kHz', objectType: 2, sampleRate: 48000, channelConfig: 2 },
  {
    name: 'LC stereo 44.1 kHz, no common window',
    objectType: 2,
    sampleRate: 44100,
    channelConfig: 2,
    commonWindow: false,
  },
  {
    name: 'LC mono 48 kHz, 960-sample frames',
    objectType: 2,
    sampleRate: 48000,
    channelConfig: 1,
    frameLength960: true,
  },
  { name: 'Main mono 48 kHz', objectType: 1, sampleRate: 48000, channelConfig: 1 },
  { name: 'LTP stereo 48 kHz', objectType: 4, sampleRate: 48000, channelConfig: 2 },
  ...[3, 4, 5, 6, 7].map((channelConfig) => ({
    name: `LC channelConfiguration ${channelConfig} 48 kHz`,
    objectType: 2,
    sampleRate: 48000,
    channelConfig,
  })),
];

describe('silent AAC frames decode to zeros in every judge', () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const asc = buildAudioSpecificConfig(c);
      if (c.frameLength960) asc[1] = (asc[1] as number) | 0x04; // GASpecificConfig frameLengthFlag
      const frame = silentAacFrame(parseAudioSpecificConfig(asc), { commonWindow: c.commonWindow ?? true });
      if (!frame.ok) throw new Error(frame.reason);
      const file = join(dir, `${c.name.replace(/[^a-z0-9]+/gi, '-')}.flv`);
      await writeFile(file, aacFlv(asc, Array(FRAMES).fill(frame.data), frame.samplesPerFrame, c.sampleRate));
      for (const judge of JUDGES) {
        const d = await decodePcm(judge, file);
        expect(d.errorLines, `${judge.label}: error lines`).toEqual([]);
        expect(d.code, `${judge.label}: exit code`).toBe(0);
        expect(d.samples.length, `${judge.label}: samples`).toBe(FRAMES * frame.samplesPerFrame * frame.channels);
        expect(nonZero(d.samples), `${judge.label}: non-zero samples`).toBe(0);
      }
    });
  }
});

const GAP_FRAMES = 6;
/** ics_info window_sequence values a gap can follow (LONG_STOP only ends a short run). */
const WINDOW_SEQUENCES = { ONLY_LONG: 0, LONG_START: 1, EIGHT_SHORT: 2 } as const;

/** window_sequence of a frame's first element (FFmpeg's encoder writes an SCE or CPE first). */
function windowSequence(frame: Buffer): number {
  const bits = [...frame.subarray(0, 4)].map((b) => b.toString(2).padStart(8, '0')).join('');
  const id = parseInt(bits.slice(0, 3), 2);
  // After id_syn_ele and element_instance_tag: a CPE's common_window (then the shared
  // ics_info, else global_gain first); an SCE's global_gain. Then ics_reserved_bit.
  const commonWindow = id === 1 && bits[7] === '1';
  const icsInfoAt = commonWindow ? 8 : id === 1 ? 16 : 15;
  return parseInt(bits.slice(icsInfoAt + 1, icsInfoAt + 3), 2);
}

async function realAac(channels: number): Promise<{ asc: Buffer; frames: Buffer[] }> {
  const file = join(dir, `real-${channels}.flv`);
  const r = await run(ffmpegPath, [
    '-hide_banner',
    '-nostdin',
    '-v',
    'error',
    '-y',
    '-f',
    'lavfi',
    '-i',
    // A beep every second: transients, so the encoder switches to short windows.
    'sine=frequency=440:beep_factor=8:sample_rate=48000',
    '-t',
    '4',
    '-c:a',
    'aac',
    '-b:a',
    '96k',
    '-ac',
    String(channels),
    '-f',
    'flv',
    file,
  ]);
  if (r.code !== 0) throw new Error(`AAC encode failed: ${r.stderr}`);
  const bodies = readFlv(readFileSync(file))
    .tags.filter((t) => t.tagType === FLV_TAG_AUDIO)
    .map((t) => parseAudioTagBody(t.data));
  const asc = bodies.find((b) => b.isSequenceHeader)?.data;
  if (asc === undefined) throw new Error('no AudioSpecificConfig');
  return { asc, frames: bodies.filter((b) => !b.isSequenceHeader).map((b) => b.data) };
}

describe('silence spliced into real AAC', () => {
  for (const channels of [1, 2]) {
    it(`${channels === 1 ? 'mono' : 'stereo'} 48 kHz: clean, and zeros from each gap's second frame`, async () => {
      const { asc, frames } = await realAac(channels);
      const config = parseAudioSpecificConfig(asc);
      const silent = silentAacFrame(config);
      if (!silent.ok) throw new Error(silent.reason);
      const windows = frames.map(windowSequence);
      // A gap after the first frame (past the start) of each window sequence a gap can follow.
      const cuts = Object.values(WINDOW_SEQUENCES)
        .map((ws) => windows.findIndex((w, i) => i >= 5 && w === ws))
        .sort((a, b) => a - b);
      expect(cuts, `window sequences ${windows.join('')}`).not.toContain(-1);
      const spliced: Buffer[] = [];
      const gapStarts: number[] = [];
      frames.forEach((f, i) => {
        spliced.push(f);
        if (!cuts.includes(i)) return;
        gapStarts.push(spliced.length);
        for (let g = 0; g < GAP_FRAMES; g++) spliced.push(silent.data);
      });
      const file = join(dir, `spliced-${channels}.flv`);
      await writeFile(file, aacFlv(asc, spliced, silent.samplesPerFrame, config.sampleRate));
      const frameSamples = silent.samplesPerFrame * channels;
      for (const judge of JUDGES) {
        const d = await decodePcm(judge, file);
        expect(d.errorLines, `${judge.label}: error lines`).toEqual([]);
        expect(d.code, `${judge.label}: exit code`).toBe(0);
        expect(d.samples.length, `${judge.label}: samples`).toBe(spliced.length * frameSamples);
        for (const start of gapStarts) {
          // The gap's first frame still holds the previous frame's overlap; the rest is silence.
          const from = (start + 1) * frameSamples;
          const to = (start + GAP_FRAMES) * frameSamples;
          expect(nonZero(d.samples, from, to), `${judge.label}: gap at frame ${start}`).toBe(0);
          expect(
            nonZero(d.samples, (start - 1) * frameSamples, start * frameSamples),
            'audio before it',
          ).toBeGreaterThan(0);
        }
      }
    });
  }
});
