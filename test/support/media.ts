/**
 * Real media for socket/process tests: test encodes made with the ffmpeg that
 * src/tools/ffmpeg-locator finds, cached under node_modules/.cache so parallel test
 * files and reruns share them; ffprobe's view of a file; ffmpeg child processes that
 * always stop (a time limit kills them).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { requireTool } from '../../src/tools/ffmpeg-locator.js';
import { runTool } from '../../src/tools/run-tool.js';

export const ffmpegPath = requireTool('ffmpeg').path;
export const ffprobePath = requireTool('ffprobe').path;

const CACHE_DIR = resolve(import.meta.dirname, '../../node_modules/.cache/rinse-test-media');

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Run a tool to completion, killing it after `timeoutMs`; output as text. */
export async function run(path: string, args: string[], timeoutMs = 60_000): Promise<RunResult> {
  const r = await runTool(path, args, timeoutMs);
  return { ...r, stdout: r.stdout.toString() };
}

/** A running ffmpeg with a promise of its end; killed at `timeoutMs` so no test leaves one behind. */
export interface FfmpegProcess {
  child: ChildProcess;
  done: Promise<RunResult>;
}

/** ffmpeg publishing `source` to `url` in real time (-re, -c copy), as a live publisher does. */
export function startLivePublisher(source: string, url: string, timeoutMs = 60_000): FfmpegProcess {
  return startFfmpeg(['-loglevel', 'error', '-re', '-i', source, '-c', 'copy', '-f', 'flv', url], timeoutMs);
}

/** ffmpeg playing rinse's cleaned stream `clean/{userId}/{streamId}` for `seconds` into `out` (local mode). */
export function startLocalPlayer(rtmpPort: number, userStream: string, out: string, seconds = 3): FfmpegProcess {
  const url = `rtmp://127.0.0.1:${rtmpPort}/clean/${userStream}`;
  return startFfmpeg(['-loglevel', 'error', '-i', url, '-c', 'copy', '-t', String(seconds), '-f', 'flv', out], 60_000);
}

export function startFfmpeg(args: string[], timeoutMs = 60_000): FfmpegProcess {
  const child = spawn(ffmpegPath, ['-hide_banner', '-nostdin', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  const err: Buffer[] = [];
  const out: Buffer[] = [];
  child.stdout?.on('data', (b: Buffer) => out.push(b));
  child.stderr?.on('data', (b: Buffer) => err.push(b));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const done = new Promise<RunResult>((resolvePromise, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolvePromise({ code, signal, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
    });
  });
  return { child, done };
}

export interface TestEncode {
  /** Width x height. */
  size: string;
  fps: number;
  seconds: number;
  videoBitrate: string;
  /** GOP length in frames. */
  gop: number;
  /** x264 preset; presets above ultrafast use B-frames. */
  preset: string;
  /** H.264 profile (baseline: CAVLC, no B-frames); the encoder's default when absent. */
  profile?: string;
  /** Extra -x264-params, e.g. "slices=4". */
  x264Params?: string;
  /** Seconds of audio too (default true). */
  audio?: boolean;
}

export const SOURCE_720P30: TestEncode = {
  size: '1280x720',
  fps: 30,
  seconds: 10,
  videoBitrate: '2500k',
  gop: 60,
  preset: 'superfast',
};

/** An H.264 + AAC FLV test encode; made once and cached. */
export async function testEncode(spec: TestEncode = SOURCE_720P30): Promise<string> {
  mkdirSync(CACHE_DIR, { recursive: true });
  const extra = `${spec.profile ? `-${spec.profile}` : ''}${spec.x264Params ? `-${spec.x264Params.replace(/[^a-z0-9]+/gi, '_')}` : ''}${spec.audio === false ? '-noaudio' : ''}`;
  const name = `testsrc-${spec.size}-${spec.fps}fps-${spec.seconds}s-${spec.videoBitrate}-g${spec.gop}-${spec.preset}${extra}.flv`;
  const target = join(CACHE_DIR, name);
  if (existsSync(target)) return target;
  const temp = `${target}.${process.pid}.tmp`;
  const result = await run(
    ffmpegPath,
    [
      '-hide_banner',
      '-nostdin',
      '-loglevel',
      'error',
      '-y',
      '-f',
      'lavfi',
      '-i',
      `testsrc2=size=${spec.size}:rate=${spec.fps}`,
      ...(spec.audio === false ? [] : ['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100']),
      '-t',
      String(spec.seconds),
      '-c:v',
      'libx264',
      '-preset',
      spec.preset,
      '-b:v',
      spec.videoBitrate,
      '-g',
      String(spec.gop),
      ...(spec.profile ? ['-profile:v', spec.profile] : []),
      ...(spec.x264Params ? ['-x264-params', spec.x264Params] : []),
      '-pix_fmt',
      'yuv420p',
      ...(spec.audio === false ? [] : ['-c:a', 'aac', '-b:a', '128k', '-ar', '44100', '-ac', '2']),
      '-f',
      'flv',
      temp,
    ],
    120_000,
  );
  if (result.code !== 0) {
    rmSync(temp, { force: true });
    throw new Error(`test encode failed: ${result.stderr}`);
  }
  renameSync(temp, target); // atomic: a parallel test file sees the whole file or none
  return target;
}

export interface ProbedPacket {
  codecType: 'audio' | 'video';
  /** Milliseconds (FLV time base 1/1000). */
  dts: number;
  pts: number;
  size: number;
  keyframe: boolean;
  /** MD5 of the packet data as ffprobe's -show_data_hash prints it. */
  md5: string;
}

/** ffprobe -show_packets of a file (or URL), with MD5 data hashes; `ffprobe` names a judge's (judges.ts). */
export async function probePackets(input: string, ffprobe = ffprobePath): Promise<ProbedPacket[]> {
  const result = await run(ffprobe, ['-v', 'error', '-show_packets', '-show_data_hash', 'MD5', '-of', 'json', input]);
  if (result.code !== 0) throw new Error(`ffprobe failed: ${result.stderr}`);
  const parsed = JSON.parse(result.stdout) as {
    packets: Array<{ codec_type: string; dts: number; pts: number; size: string; flags: string; data_hash: string }>;
  };
  return parsed.packets.map((p) => ({
    codecType: p.codec_type as 'audio' | 'video',
    dts: Number(p.dts),
    pts: Number(p.pts),
    size: Number(p.size),
    keyframe: p.flags.startsWith('K'),
    md5: p.data_hash.replace(/^MD5:/, ''),
  }));
}

export interface DecodeReport {
  /** Decoder error output; empty when every packet decoded cleanly. */
  errors: string;
  videoFrames: number;
  audioFrames: number;
}

/**
 * Decode every frame of a file with ffprobe (-count_frames) and collect decoder errors and
 * frame counts. The contract's decodes rule (`ffmpeg -v error -f null -`) is judges.ts's
 * decodeWith; this one adds the frame counts.
 */
export async function decodeReport(input: string, ffprobe = ffprobePath): Promise<DecodeReport> {
  const result = await run(ffprobe, [
    '-v',
    'error',
    '-count_frames',
    '-show_entries',
    'stream=codec_type,nb_read_frames',
    '-of',
    'json',
    input,
  ]);
  const errors = `${result.stderr}${result.code === 0 ? '' : `\nexit code ${result.code}`}`.trim();
  let videoFrames = 0;
  let audioFrames = 0;
  if (result.code === 0) {
    const parsed = JSON.parse(result.stdout) as { streams: Array<{ codec_type: string; nb_read_frames: string }> };
    for (const s of parsed.streams) {
      if (s.codec_type === 'video') videoFrames += Number(s.nb_read_frames);
      if (s.codec_type === 'audio') audioFrames += Number(s.nb_read_frames);
    }
  }
  return { errors, videoFrames, audioFrames };
}

/**
 * MD5 of every decoded video picture, in output order, by FFmpeg (framemd5, no frame-rate
 * conversion): two files with the same list hold the same pictures whatever their timestamps.
 */
export async function decodedPictureHashes(input: string, ffmpeg = ffmpegPath): Promise<string[]> {
  // -vsync 0: no frame duplicated or dropped to fit a frame rate, so the list is the pictures.
  const result = await run(
    ffmpeg,
    ['-hide_banner', '-nostdin', '-v', 'error', '-i', input, '-map', '0:v', '-vsync', '0', '-f', 'framemd5', '-'],
    120_000,
  );
  if (result.code !== 0) throw new Error(`ffmpeg framemd5 failed: ${result.stderr}`);
  return result.stdout
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => (line.split(',').pop() as string).trim());
}
