/**
 * The bench's source stream: 720p30, about 2.5 Mbps, H.264 + AAC, 2 s GOP, 40 s, encoded
 * once by ffmpeg and cached.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { runTool } from '../src/tools/run-tool.js';

const CACHE = resolve(import.meta.dirname, '../node_modules/.cache/rinse-bench');

/** The bench source: 720p30, about 2.5 Mbps, H.264 + AAC, 2 s GOP, 40 s (longer than any run: a loop would shift audio against video at the seam); made once. */
export async function benchSource(ffmpeg: string): Promise<string> {
  mkdirSync(CACHE, { recursive: true });
  const file = join(CACHE, 'source-720p30-2500k-40s.flv');
  if (existsSync(file)) return file;
  const r = await runTool(
    ffmpeg,
    [
      '-hide_banner',
      '-nostdin',
      '-loglevel',
      'error',
      '-y',
      '-f',
      'lavfi',
      '-i',
      'testsrc2=size=1280x720:rate=30',
      '-f',
      'lavfi',
      '-i',
      'sine=frequency=440:sample_rate=44100',
      '-t',
      '40',
      '-c:v',
      'libx264',
      '-preset',
      'superfast',
      '-b:v',
      '2500k',
      '-maxrate',
      '2500k',
      '-bufsize',
      '5000k',
      '-g',
      '60',
      '-keyint_min',
      '60',
      '-sc_threshold',
      '0',
      '-pix_fmt',
      'yuv420p',
      '-c:a',
      'aac',
      '-b:a',
      '128k',
      '-ar',
      '44100',
      '-ac',
      '2',
      '-f',
      'flv',
      `${file}.tmp`,
    ],
    300_000,
  );
  if (r.code !== 0) throw new Error(`bench source encode failed: ${r.stderr.toString()}`);
  rmSync(file, { force: true });
  writeFileSync(file, readFileSync(`${file}.tmp`));
  rmSync(`${file}.tmp`, { force: true });
  return file;
}
