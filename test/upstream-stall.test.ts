/**
 * The upstream stops reading but keeps its TCP connection open (no RST, no FIN, nothing
 * acknowledged), with real processes on 127.0.0.1: rinse relays a 15 s live ffmpeg publish
 * through a proxy that freezes the first connection 5 s in. The relay must see it from the
 * acknowledgements no longer coming, within its deadline, reconnect (to a second receiver) and
 * resume at a keyframe with nothing lost: every video frame reaches one receiver or the other,
 * each in order with its DTS increasing.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { coverageLine, frameCoverage, videoFrames, expectCleanRuns } from './support/frame-coverage.js';
import { FreezeProxy } from './support/freeze-proxy.js';
import { expectDecodes } from './support/judges.js';
import { startLivePublisher, testEncode } from './support/media.js';
import { metricValue, scrapeMetrics } from './support/metrics-scrape.js';
import {
  TEST_STREAM_KEY,
  apiPortOf,
  expectReceiverClean,
  freePort,
  startReceiver,
  startRinse,
} from './support/processes.js';

const dir = mkdtempSync(join(tmpdir(), 'rinse-stall-'));
const ACK_TIMEOUT_MS = 3000;

describe('upstream that stops reading', () => {
  it('is detected from unacknowledged bytes within the deadline, reconnected, and resumed at a keyframe with nothing lost', async () => {
    const source = await testEncode({
      size: '1280x720',
      fps: 30,
      seconds: 15,
      videoBitrate: '2500k',
      gop: 60,
      preset: 'superfast',
    });
    const [portA, portB] = [await freePort(), await freePort()];
    const before = join(dir, 'frozen.flv');
    const after = join(dir, 'after-stall.flv');
    const receiverA = startReceiver(before, portA);
    const proxy = await new FreezeProxy([portA, portB]).start();
    const relay = await startRinse([
      '--target',
      `rtmp://127.0.0.1:${proxy.port}/live/${TEST_STREAM_KEY}`,
      '--grace-ms',
      '300',
      '--upstream-ack-timeout-ms',
      String(ACK_TIMEOUT_MS),
    ]);
    let frozenAt = 0;
    let detectedAt = 0;
    let resumedAt = 0;
    let stalls = 0;
    try {
      const apiPort = await apiPortOf(relay);
      const publisher = startLivePublisher(source, `rtmp://127.0.0.1:${relay.port}/live/glasses/stall`, 60_000);
      const first = await relay.waitForLog((l) => l.msg === 'upstream publishing', 'the first upstream session');
      await new Promise((r) => setTimeout(r, 5000 - (Date.now() - Number(first.time))));
      const receiverB = startReceiver(after, portB);
      proxy.freeze(0);
      frozenAt = Date.now();
      expectReceiverClean(await receiverA.done, 'receiver A');
      const detected = await relay.waitForLog(
        (l) => l.msg === 'upstream down: reconnecting' && l.code === 'ERR_UPSTREAM_ACK_TIMEOUT',
        'the stall to be detected',
        30_000,
      );
      detectedAt = Number(detected.time);
      const resumed = await relay.waitForLog(
        (l) => l.msg === 'upstream publishing' && Number(l.connects) === 2,
        'the second upstream session',
      );
      resumedAt = Number(resumed.time);
      stalls = metricValue(await scrapeMetrics(apiPort), 'rinse_upstream_stalls_total');
      expect((await publisher.done).code).toBe(0);
      expectReceiverClean(await receiverB.done, 'receiver B');
    } finally {
      receiverA.kill();
      await relay.stop();
      await proxy.stop();
    }
    const coverage = frameCoverage(source, [before, after]);
    console.log(
      `${coverageLine('upstream stopped reading', coverage)}; detected ${detectedAt - frozenAt} ms after the freeze (deadline ${ACK_TIMEOUT_MS} ms once an acknowledgement is owed), publishing again ${resumedAt - detectedAt} ms later`,
    );
    expect(stalls, 'rinse_upstream_stalls_total').toBe(1);
    expect(proxy.connections).toBe(2);
    // Owed once 1.25 windows (320 KiB, about 1 s of this 2.5 Mbit/s stream) are out unacknowledged, then the deadline.
    expect(detectedAt - frozenAt).toBeGreaterThanOrEqual(ACK_TIMEOUT_MS);
    expect(detectedAt - frozenAt).toBeLessThanOrEqual(ACK_TIMEOUT_MS + 3000);
    expect(videoFrames(after)[0]?.keyframe, 'the new session starts at a keyframe').toBe(true);
    expectCleanRuns(coverage);
    await expectDecodes(after);
  });
});
