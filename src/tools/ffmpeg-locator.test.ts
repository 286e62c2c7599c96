import { mkdtempSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { locateTool, requireTool } from './ffmpeg-locator.js';

function fakeBinary(dir: string, name: string): string {
  const path = join(dir, name);
  writeFileSync(path, '#!/bin/sh\nexit 0\n');
  chmodSync(path, 0o755);
  return path;
}

describe('locateTool', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rinse-locator-'));
  const envBinary = fakeBinary(dir, 'my-ffmpeg');
  const pathDir = mkdtempSync(join(tmpdir(), 'rinse-locator-path-'));
  const onPath = fakeBinary(pathDir, 'ffmpeg');
  fakeBinary(pathDir, 'ffprobe');

  it('prefers FFMPEG_PATH over PATH', () => {
    expect(locateTool('ffmpeg', { FFMPEG_PATH: envBinary, PATH: pathDir })).toEqual({
      name: 'ffmpeg',
      path: envBinary,
      source: 'env',
    });
  });

  it('uses PATH when no env var is set', () => {
    expect(locateTool('ffmpeg', { PATH: pathDir })).toEqual({ name: 'ffmpeg', path: onPath, source: 'path' });
    expect(locateTool('ffprobe', { PATH: pathDir })?.source).toBe('path');
  });

  it('falls back to the npm-packaged binaries', () => {
    expect(locateTool('ffmpeg', { PATH: '' })?.source).toBe('package');
    expect(locateTool('ffprobe', { PATH: '' })?.source).toBe('package');
  });

  it('refuses a broken explicit setting with a message naming the variable', () => {
    expect(locateTool('ffprobe', { FFPROBE_PATH: join(dir, 'missing'), PATH: pathDir })).toBeNull();
    expect(() => requireTool('ffprobe', { FFPROBE_PATH: join(dir, 'missing') })).toThrow(/FFPROBE_PATH/);
  });
});
