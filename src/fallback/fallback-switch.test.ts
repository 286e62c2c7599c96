/**
 * FallbackSwitch with a fake transcoder (no FFmpeg): when it switches to the transcode and
 * what it feeds the encoder, how the encoder's output is mapped back onto the stream (overlap
 * dropped, output from the first forced keyframe, headers before it), the concurrent cap, the
 * restart backoff and giving up, and the restart IDR demoted under the minimum interval.
 */
import { pino } from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { FlvTag } from '../flv/flv-reader.js';
import { parseVideoTagBody } from '../flv/flv-tag.js';
import { classifyAudio } from '../flv/media-tag.js';
import { nalType, NalType, splitAvcc } from '../flv/nal-units.js';
import {
  aacFrameTag,
  aacHeaderTag,
  avcFrameTag,
  avcHeaderTag,
  buildPps,
  buildSlice,
  buildSps,
} from '../fixer/synthetic-h264.test-support.js';
import { AAC_TAG_BYTE } from '../media/output-contract.js';
import { TAG_AUDIO, TAG_SCRIPT, TAG_VIDEO, type MediaTag } from '../media/tag-kinds.js';
import {
  DEFAULT_FALLBACK_OPTIONS,
  FallbackSwitch,
  TranscodeSlots,
  type FallbackOptions,
  type TranscoderFactory,
  type TranscoderHandle,
} from './fallback-switch.js';
import { DEFAULT_TRANSCODE_SETTINGS } from './transcoder.js';

type TranscoderOptions = Parameters<TranscoderFactory>[0];

/** Stands in for the ffmpeg process: records what it is fed; the test makes it output and exit. */
class FakeTranscoder implements TranscoderHandle {
  private static nextPid = 1000;
  readonly pid = FakeTranscoder.nextPid++;
  running = true;
  killed = false;
  stoppedWithDrainMs: number | null = null;
  readonly written: MediaTag[] = [];

  constructor(readonly opts: TranscoderOptions) {}

  write(tag: MediaTag): boolean {
    if (!this.running) return false;
    this.written.push(tag);
    return true;
  }

  async stop(drainMs = 1000): Promise<void> {
    this.stoppedWithDrainMs = drainMs;
    this.exit(0, true);
  }

  kill(): void {
    this.killed = true;
  }

  /** One tag on ffmpeg's stdout. */
  output(tag: MediaTag): void {
    const flv: FlvTag = { ...tag, filtered: false, reserved: 0, streamId: 0, offset: 0, previousTagSize: 0 };
    this.opts.events.onTag(flv);
  }

  exit(code: number, expected = false): void {
    this.running = false;
    this.opts.events.onExit(code, null, expected);
  }
}

const FRAME_MS = 1000 / 30;
const frameTime = (i: number): number => Math.round(i * FRAME_MS);
/** AAC frames on a 23 ms grid (near enough to 1024 samples at 44.1 kHz for this). */
const AUDIO_MS = 23;
const OPTIONS: FallbackOptions = {
  ...DEFAULT_FALLBACK_OPTIONS,
  ffmpegPath: '/nonexistent/ffmpeg', // never run: the fake stands in
  settings: DEFAULT_TRANSCODE_SETTINGS,
  restartFirstMs: 250,
  restartMaxMs: 5000,
  maxFailures: 3,
  transcodeAfterMs: 0,
};

function setup(
  slots = new TranscodeSlots(4),
  userId = 'u1',
  options: FallbackOptions = OPTIONS,
): {
  sw: FallbackSwitch;
  sent: MediaTag[];
  fakes: FakeTranscoder[];
  slots: TranscodeSlots;
} {
  const sent: MediaTag[] = [];
  const fakes: FakeTranscoder[] = [];
  const sw = new FallbackSwitch({
    send: (t) => sent.push(t),
    logger: pino({ level: 'silent' }),
    options,
    slots,
    userId,
    frameMs: () => FRAME_MS,
    createTranscoder: (opts) => {
      const fake = new FakeTranscoder(opts);
      fakes.push(fake);
      return fake;
    },
  });
  return { sw, sent, fakes, slots };
}

const SPS = buildSps({ fps: 30 });
const PPS = buildPps();
const idr = (): Buffer[] => [buildSlice({ idr: true, frameNum: 0, pocLsb: 0 })];
const pSlice = (n: number): Buffer[] => [buildSlice({ idr: false, frameNum: n % 16, pocLsb: (2 * n) % 64 })];
const metadata: MediaTag = { tagType: TAG_SCRIPT, timestampMs: 0, data: Buffer.from([2, 0, 10]) };

/** The input (the fixer's output): video frames first..last, a keyframe every 60, the audio in between. */
function input(first: number, last: number): MediaTag[] {
  const tags: MediaTag[] = first === 0 ? [metadata, avcHeaderTag(0, SPS, PPS), aacHeaderTag(0)] : [];
  for (let i = first; i <= last; i++) {
    tags.push(avcFrameTag(frameTime(i), i % 60 === 0 ? idr() : pSlice(i % 60), i % 60 === 0));
    for (let a = Math.ceil(frameTime(i) / AUDIO_MS); a * AUDIO_MS < frameTime(i + 1); a++)
      tags.push(aacFrameTag(a * AUDIO_MS));
  }
  return tags;
}

/** The encoder's video output for input frames from..to (-copyts: the input's timestamps), IDRs at `keys`. */
function encode(fake: FakeTranscoder, from: number, to: number, keys: readonly number[]): void {
  for (let i = from; i <= to; i++) {
    const key = keys.includes(i);
    fake.output(avcFrameTag(frameTime(i), key ? idr() : pSlice(i - from), key));
  }
}

const isIdrTag = (t: MediaTag): boolean =>
  splitAvcc(parseVideoTagBody(t.data).data).some((n) => nalType(n) === NalType.IDR);
const isCodedVideo = (t: MediaTag): boolean =>
  t.tagType === TAG_VIDEO && parseVideoTagBody(t.data).packetKind === 'coded-frames';

const isAudioFrame = (t: MediaTag): boolean => t.tagType === TAG_AUDIO && !classifyAudio(t.data).isSequenceHeader;

/** Frames only, not sequence headers. */
function expectIncreasing(tags: MediaTag[], tagType: number): void {
  const ts = tags.filter(tagType === TAG_VIDEO ? isCodedVideo : isAudioFrame);
  for (let i = 1; i < ts.length; i++)
    expect(ts[i]!.timestampMs, `${tagType} #${i}`).toBeGreaterThan(ts[i - 1]!.timestampMs);
}

afterEach(() => {
  vi.useRealTimers();
});

describe('FallbackSwitch', () => {
  it('remuxes: every tag goes on as it came, and no transcoder starts', () => {
    const { sw, sent, fakes } = setup();
    const tags = input(0, 90);
    for (const t of tags) sw.push(t);
    expect(sent).toEqual(tags);
    expect(sent.every((t, i) => t === tags[i])).toBe(true);
    expect(fakes).toHaveLength(0);
    expect(sw.mode).toBe('remux');
  });

  it('switches on demand: takes a slot, feeds headers and the frames since the last keyframe, then the live stream', () => {
    const { sw, sent, fakes, slots } = setup();
    for (const t of input(0, 75)) sw.push(t); // keyframes at 0 and 2000 ms; last sent at 2500 ms
    const before = sent.length;
    expect(sw.startTranscode('GOP of 12 s')).toBe(true);
    expect(sw).toMatchObject({ mode: 'transcode', reason: 'GOP of 12 s' });
    expect(slots.active).toBe(1);
    expect(fakes).toHaveLength(1);
    const fed = fakes[0]!.written;
    expect(fed.slice(0, 3).map((t) => t.tagType)).toEqual([TAG_SCRIPT, TAG_VIDEO, TAG_AUDIO]);
    const firstFrame = fed.find(isCodedVideo)!;
    expect(firstFrame.timestampMs).toBe(2000);
    expect(isIdrTag(firstFrame)).toBe(true);
    expect(fed.filter(isCodedVideo)).toHaveLength(16); // frames 60..75
    // Keyframes forced every 2 s from half a frame after the last frame sent, counted from the first frame fed.
    const args = fakes[0]!.opts.args;
    expect(args[args.indexOf('-force_key_frames') + 1]).toBe('expr:gte(t,0.517+n_forced*2)');
    expect(fakes[0]!.opts.ffmpegPath).toBe(OPTIONS.ffmpegPath);

    for (const t of input(76, 80)) sw.push(t);
    expect(sent).toHaveLength(before); // the live stream goes to ffmpeg now
    expect(fakes[0]!.written.filter(isCodedVideo).map((t) => t.timestampMs)).toContain(frameTime(80));
    // Asked again: already transcoding, nothing new started (and no way back to remux).
    expect(sw.startTranscode('again')).toBe(true);
    expect(fakes).toHaveLength(1);
    expect(sw.mode).toBe('transcode');
  });

  it('maps the output back: drops the overlap, starts at the first keyframe after what was sent, headers first', () => {
    const { sw, sent, fakes } = setup();
    for (const t of input(0, 75)) sw.push(t);
    const before = sent.length;
    const lastAudio = sent.filter((t) => t.tagType === TAG_AUDIO).at(-1)!.timestampMs;
    sw.startTranscode('test');
    const ff = fakes[0]!;
    const shift = 1400; // ffmpeg's output timeline runs this far from its input's
    const x264Header = avcHeaderTag(0, buildSps({ fps: 30, levelIdc: 31 }), PPS);
    ff.output({ tagType: TAG_SCRIPT, timestampMs: 0, data: Buffer.from([2]) });
    ff.output(x264Header);
    ff.output({ ...aacHeaderTag(0), data: Buffer.from([0xae, 0, 0x12, 0x10]) });
    ff.output(aacFrameTag(shift + 2001, 0xae));
    for (let k = 0; k <= 20; k++) {
      const key = k === 0 || k === 16; // 16: the forced keyframe, frame 76 (2533 ms)
      ff.output(avcFrameTag(shift + 2000 + frameTime(k), key ? idr() : pSlice(k), key));
      ff.output(aacFrameTag(shift + 2001 + frameTime(k + 1), 0xae));
    }
    const out = sent.slice(before);
    expect(out[0]).toEqual({ ...x264Header, timestampMs: 2533 });
    expect(out[1]).toMatchObject({ tagType: TAG_AUDIO, timestampMs: 2533 });
    expect(out[2]).toMatchObject({ tagType: TAG_VIDEO, timestampMs: 2533 });
    expect(isIdrTag(out[2]!)).toBe(true); // a new header before it: it stays an IDR
    expect(out.filter(isCodedVideo).map((t) => t.timestampMs)).toEqual(
      [16, 17, 18, 19, 20].map((k) => 2000 + frameTime(k)),
    );
    expect(out.some((t) => t.tagType === TAG_SCRIPT)).toBe(false);
    const audio = out.filter((t) => t.tagType === TAG_AUDIO);
    expect(audio.every((t) => t.data[0] === AAC_TAG_BYTE)).toBe(true);
    expect(audio.slice(1).every((t) => t.timestampMs > lastAudio)).toBe(true);
    expect(sw.stats.framesDroppedOverlap).toBeGreaterThanOrEqual(16);
    expectIncreasing(sent, TAG_VIDEO);
    expectIncreasing(sent, TAG_AUDIO);
  });

  it('waits, remuxed, while every slot is taken, and takes one as soon as it is free', () => {
    vi.useFakeTimers();
    const slots = new TranscodeSlots(1);
    expect(slots.take('someone-else')).toBe('taken'); // another stream's transcode
    const { sw, sent, fakes } = setup(slots);
    for (const t of input(0, 30)) sw.push(t);
    expect(sw.startTranscode('GOP of 12 s')).toBe(false);
    expect(sw).toMatchObject({ mode: 'transcode-waiting', reason: 'GOP of 12 s' });
    expect(slots.stats.refused).toBe(1);
    expect(fakes).toHaveLength(0);
    const more = input(31, 40);
    for (const t of more) sw.push(t);
    expect(sent.slice(-more.length)).toEqual(more);
    slots.release('someone-else');
    vi.advanceTimersByTime(300);
    for (const t of input(41, 42)) sw.push(t);
    expect(sw.mode).toBe('transcode');
    expect(fakes).toHaveLength(1);
    expect(slots.active).toBe(1);
  });

  it('takes a slot only once the publisher has sent media for transcodeAfterMs, and asks again as frames come', () => {
    vi.useFakeTimers();
    const { sw, fakes, slots } = setup(new TranscodeSlots(4), 'u1', { ...OPTIONS, transcodeAfterMs: 5000 });
    sw.publisherStarted();
    const tags = input(0, 600);
    let i = 0;
    const pushFor = (ms: number): void => {
      const untilMs = Date.now() + ms;
      while (Date.now() < untilMs && i < tags.length) {
        sw.push(tags[i++]!);
        vi.advanceTimersByTime(10);
      }
    };
    pushFor(1000);
    expect(sw.startTranscode('PCM audio')).toBe(false);
    expect(sw.mode).toBe('transcode-waiting');
    pushFor(3800);
    expect(fakes).toHaveLength(0);
    pushFor(500);
    expect(sw.mode).toBe('transcode');
    expect(fakes).toHaveLength(1);
    expect(slots.active).toBe(1);
  });

  it('holds at most one slot per user, and gives it back at once when its publisher leaves', () => {
    vi.useFakeTimers();
    const slots = new TranscodeSlots(4);
    const a = setup(slots, 'same-user');
    const b = setup(slots, 'same-user');
    for (const t of input(0, 30)) {
      a.sw.push(t);
      b.sw.push(t);
    }
    expect(a.sw.startTranscode('PCM audio')).toBe(true);
    expect(b.sw.startTranscode('PCM audio')).toBe(false);
    expect(b.sw.mode).toBe('transcode-waiting');
    expect(slots.active).toBe(1);
    a.sw.publisherEnded(15_000);
    expect(slots.active).toBe(0);
    // Reported as transcoded until the next publisher's first frame.
    expect(a.sw.mode).toBe('transcode');
    expect(a.fakes[0]!.stoppedWithDrainMs).toBe(15_000);
    vi.advanceTimersByTime(300);
    b.sw.push(input(31, 31)[0]!);
    expect(b.sw.mode).toBe('transcode');
    expect(slots.active).toBe(1);
    // The first stream's next publisher waits its turn: the user's one slot is taken.
    a.sw.publisherStarted();
    vi.advanceTimersByTime(300);
    a.sw.push(input(31, 31)[0]!);
    expect(a.sw.mode).toBe('transcode-waiting');
  });

  it('a forced transcode skips the wait and the one-per-user rule, not the cap', () => {
    const slots = new TranscodeSlots(2);
    const waitLong = { ...OPTIONS, transcodeAfterMs: 60_000 };
    const a = setup(slots, 'u1', waitLong);
    const b = setup(slots, 'u1', waitLong);
    const c = setup(slots, 'u2', waitLong);
    expect(a.sw.startTranscode('forced by configuration', true)).toBe(true);
    expect(b.sw.startTranscode('forced by configuration', true)).toBe(true);
    expect(c.sw.startTranscode('forced by configuration', true)).toBe(false);
    expect(slots.active).toBe(2);
  });

  it('restarts a crashed ffmpeg with doubling backoff, and gives up after maxFailures without output', () => {
    vi.useFakeTimers();
    const { sw, sent, fakes, slots } = setup();
    for (const t of input(0, 75)) sw.push(t);
    sw.startTranscode('test');
    fakes[0]!.exit(1);
    vi.advanceTimersByTime(OPTIONS.restartFirstMs - 1);
    expect(fakes).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(fakes).toHaveLength(2);
    // Fed again from the last input keyframe.
    expect(fakes[1]!.written.find(isCodedVideo)?.timestampMs).toBe(2000);
    fakes[1]!.exit(1);
    vi.advanceTimersByTime(2 * OPTIONS.restartFirstMs - 1);
    expect(fakes).toHaveLength(2);
    vi.advanceTimersByTime(1);
    expect(fakes).toHaveLength(3);
    fakes[2]!.exit(1);
    expect(sw.mode).toBe('transcode-failed');
    expect(slots.active).toBe(0);
    vi.advanceTimersByTime(60_000);
    expect(fakes).toHaveLength(3);
    expect(sw.stats).toMatchObject({ transcoderStarts: 3, transcoderCrashes: 3 });
    // What comes now goes on remuxed; no second try.
    const more = input(76, 80);
    for (const t of more) sw.push(t);
    expect(sent.slice(-more.length)).toEqual(more);
    expect(sw.startTranscode('again')).toBe(false);
  });

  it('counts failures again from one after a transcoder that produced output', () => {
    vi.useFakeTimers();
    const { sw, fakes } = setup();
    for (const t of input(0, 75)) sw.push(t);
    sw.startTranscode('test');
    fakes[0]!.exit(1);
    vi.advanceTimersByTime(OPTIONS.restartFirstMs);
    fakes[1]!.output({ tagType: TAG_SCRIPT, timestampMs: 0, data: Buffer.from([2]) });
    fakes[1]!.exit(1);
    vi.advanceTimersByTime(OPTIONS.restartFirstMs); // not doubled
    expect(fakes).toHaveLength(3);
    expect(sw.mode).toBe('transcode');
  });

  it('demotes a restarted encoder’s IDR under the minimum interval when its parameter sets are unchanged', () => {
    vi.useFakeTimers();
    const { sw, sent, fakes } = setup();
    for (const t of input(0, 75)) sw.push(t);
    sw.startTranscode('test');
    const header = avcHeaderTag(0, SPS, PPS);
    fakes[0]!.output(header);
    encode(fakes[0]!, 60, 90, [60, 76]); // output from the forced keyframe at frame 76 on
    expect(sent.filter(isCodedVideo).at(-1)?.timestampMs).toBe(frameTime(90));
    fakes[0]!.exit(1);
    vi.advanceTimersByTime(OPTIONS.restartFirstMs);
    const before = sent.length;
    const restarted = fakes[1]!;
    expect(restarted.written.find(isCodedVideo)?.timestampMs).toBe(frameTime(60));
    restarted.output(header); // x264 again, same settings: the same header
    encode(restarted, 60, 91, [60, 91]); // forced right after the last frame sent, 0.5 s after the last keyframe
    const out = sent.slice(before);
    expect(out).toHaveLength(1); // no header again
    expect(out[0]!.timestampMs).toBe(frameTime(91));
    expect((out[0]!.data[0] as number) >> 4).toBe(2); // flagged inter
    expect(splitAvcc(parseVideoTagBody(out[0]!.data).data).map(nalType)).toEqual([NalType.SLICE]);
  });

  it('keeps a restarted encoder’s IDR when its header is new, and sends the header first', () => {
    vi.useFakeTimers();
    const { sw, sent, fakes } = setup();
    for (const t of input(0, 75)) sw.push(t);
    sw.startTranscode('test');
    fakes[0]!.output(avcHeaderTag(0, SPS, PPS));
    encode(fakes[0]!, 60, 76, [60, 76]);
    fakes[0]!.exit(1);
    vi.advanceTimersByTime(OPTIONS.restartFirstMs);
    const before = sent.length;
    const other = avcHeaderTag(0, buildSps({ fps: 30, widthMbs: 40 }), PPS);
    fakes[1]!.output(other);
    encode(fakes[1]!, 60, 77, [60, 77]);
    const out = sent.slice(before);
    expect(out.map((t) => t.timestampMs)).toEqual([frameTime(77), frameTime(77)]);
    expect(out[0]!.data).toEqual(other.data);
    expect(isIdrTag(out[1]!)).toBe(true);
  });

  it('close: ends ffmpeg with the drain time, frees the slot, and takes no more tags', async () => {
    const { sw, sent, fakes, slots } = setup();
    for (const t of input(0, 75)) sw.push(t);
    sw.startTranscode('test');
    await sw.close(1500);
    expect(fakes[0]!.stoppedWithDrainMs).toBe(1500);
    expect(slots.active).toBe(0);
    const fed = fakes[0]!.written.length;
    const count = sent.length;
    for (const t of input(76, 80)) sw.push(t);
    expect(fakes[0]!.written).toHaveLength(fed);
    expect(sent).toHaveLength(count);
    expect(fakes).toHaveLength(1); // an expected exit is not a crash
  });

  it('killNow kills the transcoder at once', () => {
    const { sw, fakes } = setup();
    for (const t of input(0, 10)) sw.push(t);
    sw.startTranscode('test');
    expect(sw.transcoderPid).toBe(fakes[0]!.pid);
    sw.killNow();
    expect(fakes[0]!.killed).toBe(true);
  });
});
