/**
 * The cloud lookup API times out, then answers 500, while a stream is live, with real
 * processes on 127.0.0.1 and a stand-in for the cloud's HTTP API: the live broadcast goes on
 * on the destination it was given (through a publisher reconnect and an upstream reconnect,
 * neither of which asks the cloud again), and a new publish is refused with the reason.
 */
import { createServer, type ServerResponse } from 'node:http';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { videoFrames } from './support/frame-coverage.js';
import { useFixtures } from './support/fixtures.js';
import { expectReceiverClean, freePort, runReplay, startReceiver, startRinse } from './support/processes.js';

const dir = mkdtempSync(join(tmpdir(), 'rinse-lookup-outage-'));
const fixture = useFixtures();
const LOOKUP_TIMEOUT_MS = 1000;

type ApiMode = 'ok' | 'timeout' | '500';

describe('cloud lookup down while a stream is live', () => {
  it('the live stream goes on on its known destination; a new publish is refused with a clear reason', async () => {
    const port = await freePort();
    const before = join(dir, 'before.flv');
    const after = join(dir, 'after.flv');
    const receiverA = startReceiver(before, port);
    let mode: ApiMode = 'ok';
    const requests: string[] = [];
    const held: ServerResponse[] = [];
    const api = createServer((req, res) => {
      requests.push(`${mode} ${req.url}`);
      if (mode === 'timeout') held.push(res);
      else if (mode === '500') res.writeHead(500).end();
      else if (req.url === '/api/relay/cf-url/glasses/live') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ url: receiverA.url }));
      } else res.writeHead(404).end();
    });
    await new Promise<void>((r) => api.listen(0, '127.0.0.1', r));
    const apiUrl = `http://127.0.0.1:${(api.address() as { port: number }).port}`;
    const relay = await startRinse([
      '--cloud-api-url',
      apiUrl,
      '--lookup-timeout-ms',
      String(LOOKUP_TIMEOUT_MS),
      '--grace-ms',
      '4000',
    ]);
    const url = (path: string): string => `rtmp://127.0.0.1:${relay.port}/live/${path}`;
    const refusal = async (path: string): Promise<{ ms: number; stderr: string; code: number | null }> => {
      const start = Date.now();
      const run = await runReplay(fixture('clean-720p30'), url(path), 1, [], 30_000);
      return { ms: Date.now() - start, stderr: run.stderr, code: run.code };
    };
    let timedOut = { ms: 0, stderr: '', code: null as number | null };
    let failed = { ms: 0, stderr: '', code: null as number | null };
    try {
      const first = runReplay(fixture('clean-720p30'), url('glasses/live'), 1);
      await relay.waitForLog((l) => l.msg === 'upstream publishing', 'the upstream session');
      mode = 'timeout';
      timedOut = await refusal('glasses/new1');
      expect((await first).code).toBe(0);
      // The publisher comes back within the grace period, and the receiver restarts under it.
      const second = runReplay(fixture('clean-720p30'), url('glasses/live'), 1);
      await relay.waitForLog((l) => l.msg === 'publisher back: continuing the same upstream session', 'the return');
      await new Promise((r) => setTimeout(r, 1500));
      receiverA.child.kill('SIGKILL');
      await receiverA.done;
      await new Promise((r) => setTimeout(r, 1000));
      const receiverB = startReceiver(after, port);
      await relay.waitForLog((l) => l.msg === 'upstream publishing' && Number(l.connects) === 2, 'the reconnect');
      mode = '500';
      failed = await refusal('glasses/new2');
      expect((await second).code).toBe(0);
      expectReceiverClean(await receiverB.done, 'receiver B');
    } finally {
      receiverA.kill();
      await relay.stop();
      for (const res of held) res.destroy();
      await new Promise<void>((r) => api.close(() => r()));
    }
    console.log(
      `lookup down: a new publish refused after ${timedOut.ms} ms (timeouts) and ${failed.ms} ms (500s); the live stream asked the cloud once`,
    );
    expect(requests.filter((r) => r.endsWith('/glasses/live'))).toEqual(['ok /api/relay/cf-url/glasses/live']);
    expect(timedOut.code).toBe(2);
    expect(timedOut.stderr).toContain(
      `NetStream.Publish.BadName: destination lookup failed after 3 attempts: no answer within ${LOOKUP_TIMEOUT_MS} ms`,
    );
    expect(failed.code).toBe(2);
    expect(failed.stderr).toContain(
      'NetStream.Publish.BadName: destination lookup failed after 3 attempts: 500 from the cloud API',
    );
    const refused = relay.lines.filter((l) => l.msg === 'publish refused: no destination').map((l) => l.path);
    expect(refused).toEqual(['live/glasses/new1', 'live/glasses/new2']);
    expect(relay.lines.filter((l) => l.msg === 'relay session started')).toHaveLength(1);
    const resumed = videoFrames(after);
    expect(resumed[0]?.keyframe, 'the new upstream session starts at a keyframe').toBe(true);
    expect(resumed.length).toBeGreaterThan(60);
  });
});
