/**
 * Remux or transcode, per stream, on one upstream session.
 *
 * Every fixer output tag comes through here. In remux mode it goes straight on. When the
 * fixer decides a stream needs new keyframes (or a force is configured), the stream switches
 * to a libx264 transcode and stays there until it ends (no flapping: going back would
 * restart the decoder chain twice more and every switch costs a keyframe and a burst of
 * catch-up; a stream that once needed new keyframes is likely to need them again).
 *
 * The switch: ffmpeg gets the metadata, the sequence headers and every frame since the last
 * input keyframe (it cannot decode from anywhere else), then the live stream. Its keyframes
 * are forced every 2 s of stream time from the first frame after what was already sent. Its
 * output is mapped back onto the stream's own timeline (`-copyts`, plus the per-track offset
 * of its first output), frames already sent are dropped, and output starts at the first
 * forced keyframe, with x264's sequence header right before it: to the receiver the
 * timestamps run on without a step back.
 *
 * Slots (transcode-slots.ts): a stream that needs a transcode waits, remuxed, until its
 * current publisher has sent media for `transcodeAfterMs` and a slot is free (one per user),
 * asking again as frames arrive; when that publisher leaves, ffmpeg stops and the slot goes
 * back at once, and the next publisher waits its turn the same way. Hostile publishers that
 * flip codec flags and reconnect cannot hold the slots a real stream needs.
 *
 * A crashed ffmpeg is restarted with backoff the same way (from the last input keyframe,
 * forcing a keyframe right after what was sent); the upstream session is never touched, and
 * that keyframe is demoted when it comes under the minimum interval (output-gop.ts).
 */
import type { Logger } from 'pino';
import type { FlvTag } from '../flv/flv-reader.js';
import { withAacTagByte } from '../flv/flv-tag.js';
import { classifyAudio, classifyVideo } from '../flv/media-tag.js';
import { ResumeCache } from '../live/resume-cache.js';
import { OutputGop, TrackHeader } from './output-gop.js';
import { SlotClaim, type TranscodeSlots } from './transcode-slots.js';
import { Transcoder, transcodeArgs, type TranscodeSettings } from './transcoder.js';
import { TAG_AUDIO, TAG_SCRIPT, TAG_VIDEO, type MediaTag } from '../media/tag-kinds.js';

/**
 * remux; transcode; transcode-waiting (needed, but the publisher is too new or no slot is
 * free: remuxed meanwhile); transcode-failed (ffmpeg kept failing: remuxed for good).
 */
export type StreamMode = 'remux' | 'transcode' | 'transcode-waiting' | 'transcode-failed';

export { TranscodeSlots } from './transcode-slots.js';

export interface FallbackOptions {
  ffmpegPath: string;
  settings: TranscodeSettings;
  /** First restart delay after a crash, doubled per consecutive crash, in ms. */
  restartFirstMs: number;
  restartMaxMs: number;
  /** Consecutive crashes without output after which the stream gives up on transcoding. */
  maxFailures: number;
  /** Bounds of the input kept from the last keyframe (what a (re)start feeds ffmpeg). */
  maxCacheFrames: number;
  maxCacheBytes: number;
  /** A publisher must have sent media this long before its stream may take a slot, in ms. */
  transcodeAfterMs: number;
}

export const DEFAULT_FALLBACK_OPTIONS: Omit<FallbackOptions, 'ffmpegPath' | 'settings'> = {
  restartFirstMs: 250,
  restartMaxMs: 5000,
  maxFailures: 5,
  maxCacheFrames: 3000,
  maxCacheBytes: 96 * 1024 * 1024,
  transcodeAfterMs: 5000,
};

/** What the switch uses of a transcoder: {@link Transcoder} runs ffmpeg; tests pass a fake. */
export type TranscoderHandle = Pick<Transcoder, 'write' | 'stop' | 'kill' | 'running' | 'pid'>;
export type TranscoderFactory = (opts: ConstructorParameters<typeof Transcoder>[0]) => TranscoderHandle;
const spawnTranscoder: TranscoderFactory = (opts) => new Transcoder(opts);

export interface FallbackStats {
  transcoderStarts: number;
  transcoderCrashes: number;
  framesToFfmpeg: number;
  framesFromFfmpeg: number;
  framesDroppedOverlap: number;
}

export class FallbackSwitch {
  readonly stats: FallbackStats = {
    transcoderStarts: 0,
    transcoderCrashes: 0,
    framesToFfmpeg: 0,
    framesFromFfmpeg: 0,
    framesDroppedOverlap: 0,
  };
  private modeValue: StreamMode = 'remux';
  private reasonValue: string | null = null;
  private readonly send: (tag: MediaTag) => void;
  private log: Logger;
  private readonly options: FallbackOptions;
  private readonly slots: TranscodeSlots;
  private readonly frameMs: () => number;
  private readonly claim: SlotClaim;
  private readonly createTranscoder: TranscoderFactory;
  private transcoder: TranscoderHandle | null = null;
  /** The ffmpeg of a publisher that left, handing over what it holds until live media is back. */
  private draining: TranscoderHandle | null = null;
  private drained: Promise<void> | null = null;
  /** The publisher of a transcoded stream left; ffmpeg stopped, its slot given back. */
  private suspended = false;
  private restartTimer: NodeJS.Timeout | null = null;
  private failures = 0;
  private closed = false;
  // What went upstream last, per track (stream timeline, ms).
  private lastSentVideoMs = -Infinity;
  private lastSentAudioMs = -Infinity;
  /** Input kept for a (re)start: metadata, headers, frames since the last video keyframe. */
  private readonly cache: ResumeCache;
  // Mapping of the current transcoder's output.
  private firstFedMs: { video: number | null; audio: number | null } = { video: null, audio: null };
  private offsetMs: { video: number | null; audio: number | null } = { video: null, audio: null };
  private readonly videoHeader = new TrackHeader(TAG_VIDEO);
  private readonly audioHeader = new TrackHeader(TAG_AUDIO);
  private outStarted = false;
  private pendingAudio: MediaTag[] = [];
  /** Keeps the keyframe interval across a restart (demotes a restart IDR that comes too soon). */
  private readonly gop = new OutputGop();

  constructor(opts: {
    send: (tag: MediaTag) => void;
    logger: Logger;
    options: FallbackOptions;
    slots: TranscodeSlots;
    /** The stream's user: one slot per user. */
    userId: string;
    frameMs: () => number;
    /** Starts one transcoder (default: an ffmpeg process). */
    createTranscoder?: TranscoderFactory;
  }) {
    this.send = opts.send;
    this.log = opts.logger;
    this.options = opts.options;
    this.slots = opts.slots;
    this.frameMs = opts.frameMs;
    this.claim = new SlotClaim(opts.slots, opts.userId, opts.options.transcodeAfterMs);
    this.createTranscoder = opts.createTranscoder ?? spawnTranscoder;
    this.cache = new ResumeCache({ maxFrames: opts.options.maxCacheFrames, maxBytes: opts.options.maxCacheBytes });
  }

  /** Log through `logger` from now on (the relay session's, bound to the current publisher). */
  setLogger(logger: Logger): void {
    this.log = logger;
  }

  get mode(): StreamMode {
    return this.modeValue;
  }

  get reason(): string | null {
    return this.reasonValue;
  }

  /** A fixer output tag. */
  push(tag: MediaTag): void {
    if (this.closed) return;
    // Asked before the tag is cached: a transcoder started now is fed the cache, then this tag.
    const askDue = this.claim.frame();
    if (this.suspended) this.resume(Date.now());
    else if (askDue && this.modeValue === 'transcode-waiting') this.askForSlot(Date.now());
    this.cache.remember(tag);
    if (this.modeValue === 'transcode') {
      if (this.transcoder?.write(tag)) {
        this.stats.framesToFfmpeg++;
        this.noteFed(tag);
      }
      return;
    }
    this.sendOn(tag);
  }

  /** The first frame of a publisher after one that was transcoded: wait for a slot again. */
  private resume(nowMs: number): void {
    this.suspended = false;
    if (this.draining) {
      // Live media is back: what the old ffmpeg still holds would overlap it.
      this.draining.kill();
      this.draining = null;
    }
    this.modeValue = 'transcode-waiting';
    this.askForSlot(nowMs);
  }

  /**
   * Transcode this stream from now on: at once when a slot may be taken, else as soon as one
   * may (mode transcode-waiting). `forced` (by configuration) skips the publisher's wait and
   * the one-per-user rule, not the cap. Returns whether ffmpeg runs now.
   */
  startTranscode(reason: string, forced = false): boolean {
    if (this.closed || this.modeValue === 'transcode') return true;
    if (this.modeValue === 'transcode-failed') return false;
    this.claim.wanted = { reason, forced };
    this.reasonValue = reason;
    return this.askForSlot(Date.now());
  }

  /** A publisher attached: its wait for a slot starts at its first frame. */
  publisherStarted(): void {
    this.claim.publisherChanged();
  }

  /** The publisher left: a running ffmpeg stops and its slot goes back at once. */
  publisherEnded(drainMs = 0): void {
    this.claim.publisherChanged();
    if (this.closed || this.modeValue !== 'transcode') return;
    const t = this.transcoder;
    this.transcoder = null;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = null;
    this.claim.giveBack();
    // Still 'transcode' to the API until the next publisher's first frame.
    this.suspended = true;
    this.log.info({ reason: this.reasonValue }, 'publisher left: transcode stopped, slot given back');
    if (t) {
      this.draining = t;
      this.drained = t.stop(drainMs).then(() => {
        if (this.draining === t) this.draining = null;
      });
    }
  }

  /** Take a slot and start ffmpeg if the wait is over and one is free; else wait, logged once per cause. */
  private askForSlot(nowMs: number): boolean {
    const answer = this.claim.ask(nowMs);
    const reason = this.reasonValue;
    if (!answer.granted) {
      this.modeValue = 'transcode-waiting';
      if (answer.causeChanged) {
        const fields = { reason, cause: answer.cause, max: this.slots.max, refused: this.slots.stats.refused };
        this.log.warn(fields, 'transcode waiting: relaying remuxed until a slot may be taken');
      }
      return false;
    }
    this.modeValue = 'transcode';
    this.log.warn(
      { reason, lastSentVideoMs: Number.isFinite(this.lastSentVideoMs) ? this.lastSentVideoMs : null },
      'stream mode: transcode',
    );
    this.spawn();
    return true;
  }

  /**
   * Stop ffmpeg: its input ends, and what it still holds goes upstream for up to `drainMs`
   * (the stream ended), or it is stopped at once (drainMs 0: rinse stops).
   */
  async close(drainMs = 0): Promise<void> {
    if (this.closed) return;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = null;
    const t = this.transcoder;
    if (t) await t.stop(drainMs);
    await this.drained;
    this.transcoder = null;
    this.closed = true;
    this.claim.giveBack();
  }

  /** Kill ffmpeg at once (a second signal: rinse exits now). */
  killNow(): void {
    this.closed = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.transcoder?.kill();
  }

  /** The running ffmpeg's pid (tests kill it). */
  get transcoderPid(): number | undefined {
    return this.transcoder?.running ? this.transcoder.pid : undefined;
  }

  // ------------------------------------------------------------------------------------

  private sendOn(tag: MediaTag): void {
    if (tag.tagType === TAG_VIDEO && !classifyVideo(tag.data).isSequenceHeader)
      this.lastSentVideoMs = Math.max(this.lastSentVideoMs, tag.timestampMs);
    if (tag.tagType === TAG_AUDIO && !classifyAudio(tag.data).isSequenceHeader)
      this.lastSentAudioMs = Math.max(this.lastSentAudioMs, tag.timestampMs);
    this.send(tag);
  }

  private spawn(): void {
    if (this.closed) return;
    const fps = 1000 / this.frameMs();
    const forceFromMs = Number.isFinite(this.lastSentVideoMs) ? this.lastSentVideoMs + this.frameMs() / 2 : 0;
    // ffmpeg's force_key_frames counts t from the first frame it encodes, even with -copyts.
    const firstVideo = this.cache.frames.find((t) => t.tagType === TAG_VIDEO);
    const forceFromEncoderMs = Math.max(0, forceFromMs - (firstVideo?.timestampMs ?? forceFromMs));
    this.firstFedMs = { video: null, audio: null };
    this.offsetMs = { video: null, audio: null };
    this.outStarted = false;
    this.videoHeader.set(null);
    this.audioHeader.set(null);
    this.pendingAudio = [];
    this.stats.transcoderStarts++;
    this.slots.stats.spawns++;
    let producedOutput = false;
    const transcoder = this.createTranscoder({
      ffmpegPath: this.options.ffmpegPath,
      args: transcodeArgs(this.options.settings, fps, forceFromEncoderMs),
      logger: this.log,
      events: {
        onTag: (t) => {
          if (transcoder !== this.transcoder && transcoder !== this.draining) return;
          producedOutput = true;
          this.onOutput(t);
        },
        onExit: (code, signal, expected) => {
          if (expected || this.closed) return;
          if (this.transcoder === transcoder) this.transcoder = null;
          this.stats.transcoderCrashes++;
          this.slots.stats.crashes++;
          this.failures = producedOutput ? 1 : this.failures + 1;
          if (this.failures >= this.options.maxFailures) {
            this.modeValue = 'transcode-failed';
            this.log.error(
              { code, signal, failures: this.failures },
              'ffmpeg keeps failing: giving up on transcoding this stream',
            );
            this.claim.giveBack();
            return;
          }
          const delayMs = Math.min(this.options.restartMaxMs, this.options.restartFirstMs * 2 ** (this.failures - 1));
          this.log.warn(
            { code, signal, restartInMs: delayMs, crashes: this.stats.transcoderCrashes },
            'ffmpeg exited: restarting it',
          );
          this.restartTimer = setTimeout(() => {
            this.restartTimer = null;
            this.spawn();
          }, delayMs);
        },
      },
    });
    this.transcoder = transcoder;
    // What it needs to start decoding: metadata, headers, the frames since the last keyframe.
    const feed = [...this.cache.headers(), ...this.cache.frames];
    for (const tag of feed) {
      if (transcoder.write(tag)) this.stats.framesToFfmpeg++;
      this.noteFed(tag);
    }
    this.log.info(
      { fps: Math.round(fps * 100) / 100, forceFromMs: Math.round(forceFromMs), fedFrames: feed.length },
      'transcoder fed from the last keyframe',
    );
  }

  private noteFed(tag: MediaTag): void {
    if (tag.tagType === TAG_VIDEO && this.firstFedMs.video === null && !classifyVideo(tag.data).isSequenceHeader)
      this.firstFedMs.video = tag.timestampMs;
    if (tag.tagType === TAG_AUDIO && this.firstFedMs.audio === null && !classifyAudio(tag.data).isSequenceHeader)
      this.firstFedMs.audio = tag.timestampMs;
  }

  private onOutput(t: FlvTag): void {
    if (this.closed) return; // output while draining still goes on
    this.stats.framesFromFfmpeg++;
    if (t.tagType === TAG_SCRIPT) return; // the stream's first onMetaData stays the only one
    let data = t.data;
    if (t.tagType === TAG_VIDEO) {
      const v = classifyVideo(data);
      if (v.isSequenceHeader) {
        this.videoHeader.set(data);
        return;
      }
      this.offsetMs.video ??= t.timestampMs - (this.firstFedMs.video ?? t.timestampMs);
      const ts = t.timestampMs - this.offsetMs.video;
      if (!this.outStarted) {
        // The first keyframe after what was already sent (the forced one) starts the output.
        if (!(v.isKeyframe && ts > this.lastSentVideoMs + this.frameMs() / 4)) {
          this.stats.framesDroppedOverlap++;
          return;
        }
        this.outStarted = true;
        const fresh = this.sendHeaders(ts);
        this.sendOn({
          tagType: TAG_VIDEO,
          timestampMs: Math.round(ts),
          data: this.gop.frame(data, Math.round(ts), !fresh),
        });
        const held = this.pendingAudio;
        this.pendingAudio = [];
        for (const a of held) this.sendAudio(a);
        this.log.info(
          { atMs: Math.round(ts), droppedOverlap: this.stats.framesDroppedOverlap },
          'transcoded output starts',
        );
        return;
      }
      if (ts <= this.lastSentVideoMs) {
        this.stats.framesDroppedOverlap++;
        return;
      }
      const fresh = this.sendHeaders(ts);
      this.sendOn({
        tagType: TAG_VIDEO,
        timestampMs: Math.round(ts),
        data: this.gop.frame(data, Math.round(ts), !fresh),
      });
      return;
    }
    if (t.tagType === TAG_AUDIO) {
      // The contract's AAC tag byte whatever the ffmpeg build writes (no copy when it is right).
      data = withAacTagByte(data);
      if (classifyAudio(data).isSequenceHeader) {
        this.audioHeader.set(data);
        return;
      }
      this.offsetMs.audio ??= t.timestampMs - (this.firstFedMs.audio ?? t.timestampMs);
      const tag = { tagType: TAG_AUDIO, timestampMs: Math.round(t.timestampMs - this.offsetMs.audio), data };
      if (!this.outStarted) {
        this.pendingAudio.push(tag);
        if (this.pendingAudio.length > 500) this.pendingAudio.shift();
        return;
      }
      this.sendAudio(tag);
    }
  }

  private sendAudio(tag: MediaTag): void {
    if (tag.timestampMs <= this.lastSentAudioMs) {
      this.stats.framesDroppedOverlap++;
      return;
    }
    const header = this.audioHeader.due(tag.timestampMs);
    if (header) this.send(header);
    this.sendOn(tag);
  }

  /**
   * x264's sequence header (and the audio one, if re-encoded) right before the frame at `ms`,
   * when it differs from what was sent. True when a new video header went out: the frame
   * after it stays an IDR.
   */
  private sendHeaders(ms: number): boolean {
    const video = this.videoHeader.due(Math.round(ms));
    if (video) {
      this.gop.header(video.data);
      this.send(video);
    }
    const audio = this.audioHeader.due(Math.round(ms));
    if (audio) this.send(audio);
    return video !== null;
  }
}
