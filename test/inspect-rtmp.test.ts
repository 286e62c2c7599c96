/**
 * `rinse inspect rtmp://...` against a live stream served by rinse: real ffmpeg publishes
 * a clean fixture in real time; inspect plays it from the server and reports on it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inspectRtmp } from '../src/inspect/inspect-source.js';
import { ensureFixtures, type FixtureFile } from '../fixtures/generate.js';
import { startFfmpeg } from './support/media.js';
import { startTestServer, waitFor, type TestServer } from './support/server.js';

describe('rinse inspect rtmp://', () => {
  let srv: TestServer;
  let manifest: FixtureFile[];
  beforeAll(async () => {
    manifest = await ensureFixtures();
    srv = await startTestServer();
  }, 600_000);
  afterAll(async () => {
    await srv.stop();
  });

  it('reports a live clean stream as accepted, with its codecs and GOP', async () => {
    const clean = manifest.find((f) => f.name === 'clean-720p30') as FixtureFile;
    const url = srv.url('live/inspect/clean');
    const inspecting = inspectRtmp(url, { seconds: 30 });
    // The player waits on the path; publish once it is attached.
    await waitFor(
      () => (srv.registry.get('live/inspect/clean')?.subscriberCount ?? 0) === 1,
      10_000,
      'inspect to attach',
    );
    const publisher = startFfmpeg(['-loglevel', 'error', '-re', '-i', clean.file, '-c', 'copy', '-f', 'flv', url]);
    const [report, published] = await Promise.all([inspecting, publisher.done]);
    expect(published.code).toBe(0);
    expect(report.source).not.toContain('inspect/clean'); // the stream name is redacted
    expect(report.video).toMatchObject({ codec: 'h264', width: 1280, height: 720, fps: 30 });
    expect(report.audio).toMatchObject({ codec: 'aac', sampleRate: 44100, channels: 2 });
    expect(report.gop.medianS).toBe(2);
    expect(report.findings.map((f) => f.kind)).toEqual([]);
    expect(report.verdict.accept).toBe(true);
  });
});
