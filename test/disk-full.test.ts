/**
 * The capture or recordings disk is full, with real processes: the file rinse opens is a
 * symlink to /dev/full, where every write fails with ENOSPC, as on a full disk (no root
 * needed). The file must be closed with a log line and a metric, and the relay and the
 * broadcast go on: the receiver gets every frame, a player of the local stream plays it.
 */
import { existsSync, mkdirSync, mkdtempSync, readdirSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { fileStamp } from '../src/relay/flv-file-sink.js';
import { coverageLine, frameCoverage, videoFrames } from './support/frame-coverage.js';
import { useFixtures } from './support/fixtures.js';
import { startLocalPlayer } from './support/media.js';
import { metricValue, scrapeMetrics } from './support/metrics-scrape.js';
import { apiPortOf, expectReceiverClean, freePort, runReplay, startReceiver, startRinse } from './support/processes.js';

const dir = mkdtempSync(join(tmpdir(), 'rinse-disk-full-'));
const fixture = useFixtures();
const DEV_FULL = '/dev/full';

/** Every name `name(stamp)` the next 90 s could give a file, as a symlink to /dev/full. */
function fullDisk(into: string, name: (stamp: string) => string): void {
  mkdirSync(into, { recursive: true });
  const now = Date.now();
  for (let s = -2; s <= 90; s++)
    symlinkSync(DEV_FULL, join(into, `${name(fileStamp(new Date(now + s * 1000)))}.partial`));
}

describe.skipIf(!existsSync(DEV_FULL))('a full disk (ENOSPC)', () => {
  it('capture: the capture file is closed with a log line and a metric; the broadcast reaches the receiver whole', async () => {
    const captureDir = join(dir, 'captures');
    fullDisk(captureDir, (stamp) => `glasses-cap-${stamp}-1.flv`);
    const out = join(dir, 'capture-receiver.flv');
    const receiver = startReceiver(out, await freePort());
    const relay = await startRinse(['--target', receiver.url, '--grace-ms', '300', '--capture-dir', captureDir]);
    let failures = 0;
    try {
      const apiPort = await apiPortOf(relay);
      const replay = await runReplay(fixture('clean-720p30'), `rtmp://127.0.0.1:${relay.port}/live/glasses/cap`, 2);
      expect(replay.code).toBe(0);
      expectReceiverClean(await receiver.done);
      await relay.waitForLog((l) => l.msg === 'relay session ended', 'the relay session to end');
      failures = metricValue(
        await scrapeMetrics(apiPort),
        'rinse_file_write_failures_total{kind="capture",code="ENOSPC"}',
      );
      expect((await fetch(`http://127.0.0.1:${apiPort}/healthz`)).status).toBe(200);
    } finally {
      receiver.kill();
      await relay.stop();
    }
    const failed = relay.lines.filter((l) => l.msg === 'file write failed: this file stops here');
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ code: 'ENOSPC', level: 50 });
    expect(failures).toBe(1);
    expect(relay.lines.some((l) => l.msg === 'capture written')).toBe(true);
    expect(readdirSync(captureDir).filter((f) => f.endsWith('.flv'))).toEqual([]);
    const coverage = frameCoverage(fixture('clean-720p30'), [out]);
    console.log(coverageLine('capture disk full', coverage));
    expect(coverage.missing).toEqual([]);
  });

  it('recording: the recording is closed with a log line and a metric; the local stream plays on', async () => {
    const recordings = join(dir, 'recordings');
    fullDisk(recordings, (stamp) => `glasses-full-${stamp}.flv`);
    const relay = await startRinse(['--grace-ms', '300', '--recordings-dir', recordings]);
    const played = join(dir, 'played.flv');
    let failures = 0;
    try {
      const apiPort = await apiPortOf(relay);
      const replay = runReplay(fixture('clean-720p30'), `rtmp://127.0.0.1:${relay.port}/live/glasses/full`, 1);
      await relay.waitForLog((l) => l.msg === 'file write failed: this file stops here', 'the write failure');
      const player = startLocalPlayer(relay.port, 'glasses/full', played);
      expectReceiverClean(await player.done, 'player');
      expect((await replay).code).toBe(0);
      await relay.waitForLog((l) => l.msg === 'relay session ended', 'the relay session to end');
      failures = metricValue(
        await scrapeMetrics(apiPort),
        'rinse_file_write_failures_total{kind="recording",code="ENOSPC"}',
      );
    } finally {
      await relay.stop();
    }
    const failed = relay.lines.filter((l) => l.msg === 'file write failed: this file stops here');
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ code: 'ENOSPC' });
    expect(failures).toBe(1);
    expect(videoFrames(played).length, 'video frames the player got').toBeGreaterThan(60);
    expect(readdirSync(recordings).filter((f) => f.endsWith('.flv'))).toEqual([]);
  });
});
