/**
 * One ffmpeg libx264 process: FLV in on stdin, FLV out on stdout, parsed with src/flv.
 *
 * Settings start from the seed's (veryfast, zerolatency, no scene-cut keyframes, 2 Mbps with
 * 2.5 Mbps max and a 4 Mbit buffer, AAC 44.1 kHz mono 128 kbps when audio is re-encoded), with
 * one correction: keyframes come every 2 s of *stream time* (forced by timestamp from the
 * switch point on), not every 30 frames, which is 1 s at 30 fps and under Cloudflare's minimum.
 * Clean AAC is copied (a video-only transcode) unless configured otherwise. `-copyts` keeps
 * the input timeline, so the output can be mapped back onto the stream's own timestamps.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import type { Logger } from 'pino';
import { FlvReader, type FlvTag } from '../flv/flv-reader.js';
import { encodeFlvHeader, encodeFlvTag } from '../flv/flv-writer.js';
import type { MediaTag } from '../media/tag-kinds.js';

export interface TranscodeSettings {
  preset: string;
  tune: string;
  videoKbps: number;
  maxKbps: number;
  bufferKbits: number;
  /** Keyframe interval in seconds of stream time. */
  gopSeconds: number;
  /** 'copy' keeps clean AAC untouched; otherwise AAC at these settings. */
  audio: 'copy' | { kbps: number; sampleRate: number; channels: number };
  /** More ffmpeg output arguments, placed before the output (e.g. ['-profile:v', 'main']). */
  extraArgs: string[];
}

export const DEFAULT_TRANSCODE_SETTINGS: TranscodeSettings = {
  preset: 'veryfast',
  tune: 'zerolatency',
  videoKbps: 2000,
  maxKbps: 2500,
  bufferKbits: 4000,
  gopSeconds: 2,
  audio: 'copy',
  extraArgs: [],
};

/** x264 keyframes come from the forced timestamps; its own interval is set far beyond them. */
const NATURAL_KEYINT_FACTOR = 10;

/** The ffmpeg arguments for one transcode whose forced keyframes start at `forceFromMs`. */
export function transcodeArgs(settings: TranscodeSettings, fps: number, forceFromMs: number): string[] {
  const gopFrames = Math.max(1, Math.round(settings.gopSeconds * fps));
  const from = (Math.max(0, forceFromMs) / 1000).toFixed(3);
  const audio =
    settings.audio === 'copy'
      ? ['-c:a', 'copy']
      : [
          '-c:a',
          'aac',
          '-b:a',
          `${settings.audio.kbps}k`,
          '-ar',
          String(settings.audio.sampleRate),
          '-ac',
          String(settings.audio.channels),
        ];
  return [
    '-hide_banner',
    '-nostats',
    '-loglevel',
    'warning',
    '-copyts',
    '-probesize',
    '1000000',
    '-analyzeduration',
    '1000000',
    '-f',
    'flv',
    '-i',
    'pipe:0',
    '-map',
    '0:v:0?',
    '-map',
    '0:a:0?',
    '-c:v',
    'libx264',
    '-preset',
    settings.preset,
    '-tune',
    settings.tune,
    '-b:v',
    `${settings.videoKbps}k`,
    '-maxrate',
    `${settings.maxKbps}k`,
    '-bufsize',
    `${settings.bufferKbits}k`,
    '-g',
    String(gopFrames * NATURAL_KEYINT_FACTOR),
    '-keyint_min',
    String(gopFrames),
    '-sc_threshold',
    '0',
    '-bf',
    '0',
    // Two reference frames: FFmpeg's parser calls every I picture of a one-reference stream a
    // keyframe, so a restart IDR demoted to an I picture (output-gop.ts) would still look like one.
    '-refs',
    '2',
    '-force_key_frames',
    `expr:gte(t,${from}+n_forced*${settings.gopSeconds})`,
    '-pix_fmt',
    'yuv420p',
    '-vsync',
    'passthrough',
    ...audio,
    ...settings.extraArgs,
    '-f',
    'flv',
    '-flvflags',
    'no_duration_filesize',
    'pipe:1',
  ];
}

export interface TranscoderEvents {
  onTag(tag: FlvTag): void;
  /** The process ended; `expected` when we ended it. */
  onExit(code: number | null, signal: NodeJS.Signals | null, expected: boolean): void;
}

let nextTranscoderId = 1;

export class Transcoder {
  readonly id = nextTranscoderId++;
  readonly pid: number | undefined;
  private readonly child: ChildProcess;
  private readonly reader: FlvReader;
  private readonly log: Logger;
  private ending = false;
  private exited = false;
  private readonly exitPromise: Promise<void>;
  /** Bytes written to stdin and not yet flushed: a stalled ffmpeg shows here. */
  bytesIn = 0;
  tagsOut = 0;

  constructor(opts: { ffmpegPath: string; args: string[]; logger: Logger; events: TranscoderEvents }) {
    this.log = opts.logger.child({ transcoder: this.id });
    this.child = spawn(opts.ffmpegPath, opts.args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.pid = this.child.pid;
    this.reader = new FlvReader({
      onTag: (t) => {
        this.tagsOut++;
        opts.events.onTag(t);
      },
    });
    this.child.stdout?.on('data', (chunk: Buffer) => {
      try {
        this.reader.push(chunk);
      } catch (err) {
        this.log.warn({ err: (err as Error).message }, 'unreadable FLV from ffmpeg: stopping it');
        this.kill();
      }
    });
    let partial = '';
    this.child.stderr?.on('data', (chunk: Buffer) => {
      partial += chunk.toString();
      const lines = partial.split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) if (line.trim()) this.log.debug({ ffmpeg: line.slice(0, 500) }, 'ffmpeg says');
    });
    // A broken pipe is an ffmpeg exit, reported through 'exit'.
    this.child.stdin?.on('error', () => {});
    this.child.on('error', (err) => this.log.error({ err: err.message }, 'ffmpeg could not be started'));
    this.exitPromise = new Promise((resolve) => {
      this.child.on('close', (code, signal) => {
        this.exited = true;
        opts.events.onExit(code, signal, this.ending);
        resolve();
      });
    });
    this.child.stdin?.write(encodeFlvHeader({ hasAudio: true, hasVideo: true }));
    this.log.info({ pid: this.pid }, 'transcoder started');
  }

  get running(): boolean {
    return !this.exited;
  }

  /** Feed one tag; false when ffmpeg is gone. */
  write(tag: MediaTag): boolean {
    if (this.exited || this.ending || !this.child.stdin || this.child.stdin.destroyed) return false;
    const bytes = encodeFlvTag({ tagType: tag.tagType, timestampMs: tag.timestampMs, data: tag.data });
    this.bytesIn += bytes.length;
    this.child.stdin.write(bytes);
    return true;
  }

  /** Queued on stdin, not yet taken by ffmpeg. */
  get stdinBacklogBytes(): number {
    return this.child.stdin?.writableLength ?? 0;
  }

  /**
   * End input and let ffmpeg finish what it holds for up to `drainMs`, then SIGTERM, then
   * SIGKILL a second later: resolves when the process is gone.
   */
  async stop(drainMs = 1000): Promise<void> {
    if (this.exited) return;
    this.ending = true;
    this.child.stdin?.end();
    const term = setTimeout(() => this.child.kill('SIGTERM'), drainMs);
    const kill = setTimeout(() => this.child.kill('SIGKILL'), drainMs + 1000);
    await this.exitPromise;
    clearTimeout(term);
    clearTimeout(kill);
  }

  /** Kill at once (it misbehaved, or a test kills it). */
  kill(): void {
    if (!this.exited) this.child.kill('SIGKILL');
  }
}
