/**
 * `rinse serve` as a real process: it listens on the given port with JSON logs, serves a
 * real ffmpeg publisher, rejects bad flags with exit code 2, and stops on SIGTERM.
 */
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { testEncode, type TestEncode, startLivePublisher } from './support/media.js';

const BIN = resolve(import.meta.dirname, '../bin/rinse.js');

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

const SHORT: TestEncode = { size: '640x360', fps: 30, seconds: 3, videoBitrate: '800k', gop: 60, preset: 'superfast' };

describe('rinse serve (process)', () => {
  it('listens on --rtmp-port, takes a real publish, logs JSON, and exits 0 on SIGTERM', async () => {
    const source = await testEncode(SHORT);
    const port = await freePort();
    const recordings = mkdtempSync(join(tmpdir(), 'rinse-cli-serve-'));
    const child = spawn(
      process.execPath,
      [
        BIN,
        'serve',
        '--rtmp-port',
        String(port),
        '--host',
        '127.0.0.1',
        '--api-port',
        '0',
        '--recordings-dir',
        recordings,
      ],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    const killer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    const lines: Array<Record<string, unknown>> = [];
    let buffered = '';
    child.stdout.on('data', (b: Buffer) => {
      buffered += b.toString();
      const parts = buffered.split('\n');
      buffered = parts.pop() ?? '';
      for (const p of parts) if (p) lines.push(JSON.parse(p) as Record<string, unknown>);
    });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const until = async (pred: () => boolean, what: string): Promise<void> => {
      const start = Date.now();
      while (!pred()) {
        if (Date.now() - start > 15_000) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    await until(
      () => lines.some((l) => l.msg === 'rtmp server listening' && l.port === port),
      'the listening log line',
    );

    const publisher = startLivePublisher(source, `rtmp://127.0.0.1:${port}/live/cli/test`);
    const result = await publisher.done;
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    await until(() => lines.some((l) => l.msg === 'publish ended'), 'the publish to end');
    const ended = lines.find((l) => l.msg === 'publish ended');
    expect(ended?.path).toBe('live/cli/test');
    expect(Number(ended?.frames)).toBeGreaterThanOrEqual(90 + 120);

    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    clearTimeout(killer);
    expect(lines.some((l) => l.msg === 'rtmp server closed')).toBe(true);
  });

  it('rejects a bad flag value with exit code 2 and a message naming the flag', async () => {
    const child = spawn(process.execPath, [BIN, 'serve', '--rtmp-port', '70000'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const code = await new Promise<number | null>((r) => child.on('exit', (c) => r(c)));
    expect(code).toBe(2);
    expect(stderr).toMatch(/--rtmp-port: expected 1\.\.65535, got 70000/);
  });
});
