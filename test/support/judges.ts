/**
 * The FFmpegs that judge an output (decode, ffprobe packets, HLS packaging). The contract
 * asks for a clean result with the npm-packaged FFmpeg 4.1 AND a current FFmpeg, because
 * the two disagree (4.1's demuxer and null muxer are stricter in places, 5.1+ in others):
 *
 * 1. the npm packages @ffmpeg-installer/ffmpeg + @ffprobe-installer/ffprobe;
 * 2. FFMPEG_PATH / FFPROBE_PATH when set, else ffmpeg / ffprobe on PATH, when that pair is
 *    a different build (by realpath or by the `-version` first line).
 *
 * Tools that only produce input (publishers, test encodes) keep using media.ts's ffmpegPath.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { locateTool, type ToolName } from '../../src/tools/ffmpeg-locator.js';
import { run } from './media.js';

export interface Judge {
  /** Short, with the version: "ffmpeg 4.1", "ffmpeg 5.1.9", "ffmpeg 4.1/ffprobe 6.0". */
  label: string;
  ffmpeg: string;
  ffprobe: string;
  /** `-version` first lines, for reports. */
  ffmpegVersion: string;
  ffprobeVersion: string;
}

/** libavformat major.minor of each FFmpeg release: names a git build by the release it follows. */
const LAVF_RELEASES: Array<[number, number, string]> = [
  [58, 12, '4.0'],
  [58, 20, '4.1'],
  [58, 29, '4.2'],
  [58, 45, '4.3'],
  [58, 76, '4.4'],
  [59, 16, '5.0'],
  [59, 27, '5.1'],
  [60, 3, '6.0'],
  [60, 16, '6.1'],
  [61, 1, '7.0'],
  [61, 7, '7.1'],
];

function versionText(path: string): string {
  try {
    return execFileSync(path, ['-version'], { encoding: 'utf8', timeout: 20_000 });
  } catch {
    return '';
  }
}

/** "5.1.9" from "ffmpeg version 5.1.9-0+deb12u1"; for git builds ("N-47683-g...") the release by libavformat. */
export function versionName(text: string): string {
  const first = text.split('\n')[0] ?? '';
  const release = /version n?(\d+\.\d+(?:\.\d+)?)/.exec(first);
  if (release) return release[1] as string;
  const lavf = /libavformat\s+(\d+)\.\s*(\d+)\./.exec(text);
  if (!lavf) return first.replace(/^\S+ version /, '').split(' ')[0] ?? 'unknown';
  const [major, minor] = [Number(lavf[1]), Number(lavf[2])];
  let name = 'unknown';
  for (const [ma, mi, rel] of LAVF_RELEASES) if (major > ma || (major === ma && minor >= mi)) name = rel;
  return name;
}

function packaged(name: ToolName): string | null {
  const pkg = name === 'ffmpeg' ? '@ffmpeg-installer/ffmpeg' : '@ffprobe-installer/ffprobe';
  try {
    const path = (createRequire(import.meta.url)(pkg) as { path?: string }).path;
    return typeof path === 'string' ? path : null;
  } catch {
    return null;
  }
}

function makeJudge(ffmpeg: string, ffprobe: string): Judge {
  const fv = versionText(ffmpeg);
  const pv = versionText(ffprobe);
  const [fn, pn] = [versionName(fv), versionName(pv)];
  return {
    label: fn === pn ? `ffmpeg ${fn}` : `ffmpeg ${fn}/ffprobe ${pn}`,
    ffmpeg,
    ffprobe,
    ffmpegVersion: fv.split('\n')[0] ?? '',
    ffprobeVersion: pv.split('\n')[0] ?? '',
  };
}

function sameBuild(a: string, b: string): boolean {
  try {
    if (realpathSync(a) === realpathSync(b)) return true;
  } catch {
    return false;
  }
  return versionText(a).split('\n')[0] === versionText(b).split('\n')[0];
}

function findJudges(): Judge[] {
  const judges: Judge[] = [];
  const [pf, pp] = [packaged('ffmpeg'), packaged('ffprobe')];
  if (pf !== null && pp !== null) judges.push(makeJudge(pf, pp));
  // locateTool: FFMPEG_PATH/FFPROBE_PATH, then PATH, then the package (then it is judge 1 again).
  const [lf, lp] = [locateTool('ffmpeg'), locateTool('ffprobe')];
  if (lf !== null && lp !== null) {
    const differs = pf === null || pp === null || !sameBuild(lf.path, pf) || !sameBuild(lp.path, pp);
    if (differs) judges.push(makeJudge(lf.path, lp.path));
  }
  if (judges.length === 0)
    throw new Error('no FFmpeg to judge with: run npm install, or set FFMPEG_PATH and FFPROBE_PATH');
  return judges;
}

/** Every judge, packaged first. Computed once per test file (a `-version` run each). */
export const JUDGES: readonly Judge[] = findJudges();

export interface JudgeRun {
  judge: string;
  code: number | null;
  /** Non-empty stderr lines: with `-v error`, each one is an error FFmpeg found. */
  errorLines: string[];
}

function lines(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l.length > 0);
}

/** decodes: `ffmpeg -hide_banner -nostdin -v error -i FILE -f null -`, no other flags. */
export async function decodeWith(judge: Judge, file: string): Promise<JudgeRun> {
  const r = await run(
    judge.ffmpeg,
    ['-hide_banner', '-nostdin', '-v', 'error', '-i', file, '-f', 'null', '-'],
    180_000,
  );
  return { judge: judge.label, code: r.code, errorLines: lines(r.stderr) };
}

export interface PackageRun extends JudgeRun {
  /** EXTINF durations of the playlist, in s. */
  segmentsS: number[];
}

/**
 * Packager stderr lines that say nothing about the input, so they are not the packages
 * rule's "error lines". Each entry says why; anything else is an error line.
 */
export const TOLERATED_PACKAGER_LINES: ReadonlyArray<{ pattern: RegExp; reason: string }> = [
  {
    // FFmpeg 4.1's HLS muxer prints this for every output path, the clean reference
    // fixtures included: it misjudges a plain path as a non-file protocol (fixed in 4.2).
    pattern:
      /^\[hls @ 0x[0-9a-f]+\] Cannot use rename on non file protocol, this may lead to races and temporary partial files$/,
    reason: 'FFmpeg 4.1 prints it for any input',
  },
];

/** packages: `ffmpeg -v error -i FILE -c copy -f hls -hls_time 2 DIR/x.m3u8`. */
export async function packageWith(judge: Judge, file: string): Promise<PackageRun> {
  const dir = mkdtempSync(join(tmpdir(), 'rinse-hls-'));
  try {
    const playlist = join(dir, 'x.m3u8');
    const r = await run(
      judge.ffmpeg,
      ['-hide_banner', '-nostdin', '-v', 'error', '-i', file, '-c', 'copy', '-f', 'hls', '-hls_time', '2', playlist],
      180_000,
    );
    const text = existsSync(playlist) ? readFileSync(playlist, 'utf8') : '';
    const segmentsS = [...text.matchAll(/^#EXTINF:([\d.]+)/gm)].map((m) => Number(m[1]));
    const errorLines = lines(r.stderr).filter((l) => !TOLERATED_PACKAGER_LINES.some((t) => t.pattern.test(l)));
    return { judge: judge.label, code: r.code, errorLines, segmentsS };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The decodes rule for every judge, with the judge in the message. */
export async function expectDecodes(file: string): Promise<void> {
  for (const judge of JUDGES) {
    const r = await decodeWith(judge, file);
    expect(r.errorLines, `${judge.label} decoding ${file}`).toEqual([]);
    expect(r.code, `${judge.label} decoding ${file}: exit code`).toBe(0);
  }
}
