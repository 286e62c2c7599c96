/**
 * Long upstream outages, with real processes on 127.0.0.1: the receiver is killed and the
 * port refuses for 33 s, then a receiver is back; and a destination whose host never
 * resolves. The relay must retry at most 1 s apart for the first 30 s of an outage and back
 * off after, hold the stream in its bounded outage buffer meanwhile (dropping to the next
 * keyframe beyond it, counted), and resume at a keyframe once the receiver is back.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { coverageLine, frameCoverage, videoFrames } from './support/frame-coverage.js';
import { startFfmpeg, startLivePublisher, testEncode } from './support/media.js';
import { metricValue, scrapeMetrics } from './support/metrics-scrape.js';
import {
  TEST_STREAM_KEY,
  apiPortOf,
  expectReceiverClean,
  freePort,
  startReceiver,
  startRinse,
  type RinseProcess,
} from './support/processes.js';

const dir = mkdtempSync(join(tmpdir(), 'rinse-outage-'));
const FAST_PHASE_MS = 30_000;
const OUTAGE_BUFFER_MS = 10_000;
const OUTAGE_BUFFER_BYTES = 16 * 1024 * 1024;
const MAX_RETRY_MS = 5000;

/** The relay's reconnect attempts (their log lines' times and fields) from `sinceMs` on. */
function attempts(relay: RinseProcess, sinceMs: number): Array<{ time: number; outageMs: number; code: unknown }> {
  return relay.lines
    .filter((l) => l.msg === 'upstream down: reconnecting' && Number(l.time) >= sinceMs)
    .map((l) => ({ time: Number(l.time), outageMs: Number(l.outageMs), code: l.code }));
}

/** The largest gap between consecutive times, `from` included as the first. */
function largestGapMs(from: number, times: number[]): number {
  let gap = 0;
  let previous = from;
  for (const t of times) {
    gap = Math.max(gap, t - previous);
    previous = t;
  }
  return gap;
}

/** Samples the stream's outage buffer through the API every second until stopped; keeps the largest. */
function watchBuffer(apiPort: number, path: string): { stop(): { bytes: number; spanMs: number } } {
  const most = { bytes: 0, spanMs: 0 };
  const timer = setInterval(() => {
    void fetch(`http://127.0.0.1:${apiPort}/v1/streams/${path}`)
      .then((r) => r.json() as Promise<{ destination?: { buffered?: { bytes: number; spanMs: number } } }>)
      .then((d) => {
        const b = d.destination?.buffered;
        if (b) Object.assign(most, { bytes: Math.max(most.bytes, b.bytes), spanMs: Math.max(most.spanMs, b.spanMs) });
      })
      .catch(() => {});
  }, 1000);
  return {
    stop: () => {
      clearInterval(timer);
      return most;
    },
  };
}

describe('long upstream outages', () => {
  it('refused for 33 s: retries at most 1 s apart for 30 s then backs off, memory bounded, resumes at a keyframe when back', async () => {
    const source = await testEncode({
      size: '640x360',
      fps: 30,
      seconds: 44,
      videoBitrate: '1000k',
      gop: 60,
      preset: 'superfast',
    });
    const port = await freePort();
    const before = join(dir, 'before-refused.flv');
    const after = join(dir, 'after-refused.flv');
    const receiverA = startReceiver(before, port);
    const relay = await startRinse(['--target', receiverA.url, '--grace-ms', '300']);
    let killedAt = 0;
    let restartedAt = 0;
    let resumed: Record<string, unknown> = {};
    let most = { bytes: 0, spanMs: 0 };
    let dropped = 0;
    try {
      const apiPort = await apiPortOf(relay);
      const publisher = startLivePublisher(source, `rtmp://127.0.0.1:${relay.port}/live/glasses/outage`, 90_000);
      const first = await relay.waitForLog((l) => l.msg === 'upstream publishing', 'the first upstream session');
      await new Promise((r) => setTimeout(r, 3000 - (Date.now() - Number(first.time))));
      receiverA.child.kill('SIGKILL');
      killedAt = Date.now();
      await receiverA.done;
      const watch = watchBuffer(apiPort, 'glasses/outage');
      await new Promise((r) => setTimeout(r, 33_000 - (Date.now() - killedAt)));
      most = watch.stop();
      const receiverB = startReceiver(after, port);
      restartedAt = Date.now();
      resumed = await relay.waitForLog(
        (l) => l.msg === 'upstream publishing' && Number(l.connects) === 2,
        'the second upstream session',
        15_000,
      );
      dropped = metricValue(await scrapeMetrics(apiPort), 'rinse_frames_dropped_total{reason="outage-buffer-full"}');
      expect((await publisher.done).code).toBe(0);
      expectReceiverClean(await receiverB.done, 'receiver B');
    } finally {
      receiverA.kill();
      await relay.stop();
    }
    const resumedAt = Number(resumed.time);
    const tries = attempts(relay, killedAt);
    const fast = tries.filter((t) => t.outageMs < FAST_PHASE_MS);
    const slow = tries.filter((t) => t.outageMs >= FAST_PHASE_MS);
    const fastGap = largestGapMs(killedAt, [...fast.map((t) => t.time), ...(slow[0] ? [slow[0].time] : [])]);
    const slowGaps = slow.slice(1).map((t, i) => t.time - slow[i]!.time);
    const coverage = frameCoverage(source, [before, after]);
    console.log(
      `refused 33 s: ${tries.length} attempts, at most ${fastGap} ms apart in the first 30 s, then ${slowGaps.join(', ')} ms apart; ` +
        `buffer peaked at ${most.bytes} bytes / ${most.spanMs} ms; publishing again ${resumedAt - restartedAt} ms after the return ` +
        `with ${String(resumed.resumeFrames)} frames from the buffer; ${dropped} frames dropped to the next keyframe; ${coverageLine('frames', coverage)}`,
    );
    expect(fast.length).toBeGreaterThan(30);
    expect(fastGap).toBeLessThanOrEqual(1000);
    for (let i = 1; i < slowGaps.length; i++) expect(slowGaps[i]!).toBeGreaterThan(slowGaps[i - 1]!);
    expect(most.spanMs).toBeGreaterThan(OUTAGE_BUFFER_MS - 2500);
    expect(most.spanMs).toBeLessThanOrEqual(OUTAGE_BUFFER_MS);
    expect(most.bytes).toBeLessThanOrEqual(OUTAGE_BUFFER_BYTES);
    expect(dropped).toBeGreaterThan(0);
    // Past the fast phase the delay doubles from 500 ms to 5 s: back within the longest delay (and a margin).
    expect(resumedAt - restartedAt).toBeLessThanOrEqual(MAX_RETRY_MS + 1000);
    expect(videoFrames(after)[0]?.keyframe, 'the new session starts at a keyframe').toBe(true);
    for (const run of coverage.runs) {
      expect(run.outOfOrder, `${run.file}: frames out of order`).toEqual([]);
      expect(run.dtsBack, `${run.file}: DTS steps back`).toEqual([]);
    }
    // What the buffer could not hold is lost, and counted; the last 10 s before the return are not.
    expect(coverage.missing.length).toBeGreaterThan(0);
    expect(coverage.missing.length).toBeLessThanOrEqual(dropped);
    const lastMissing = Math.max(...coverage.missing);
    expect(lastMissing).toBe(coverage.runs[1]!.first - 1);
  }, 150_000);

  it('a host that does not resolve: retries at most 1 s apart, memory bounded by the outage buffer, the publisher unaffected', async () => {
    const source = await testEncode({
      size: '640x360',
      fps: 30,
      seconds: 44,
      videoBitrate: '1000k',
      gop: 60,
      preset: 'superfast',
    });
    const bufferMs = 4000;
    const relay = await startRinse([
      '--target',
      `rtmp://rinse-upstream.invalid/live/${TEST_STREAM_KEY}`,
      '--grace-ms',
      '300',
      '--outage-buffer-ms',
      String(bufferMs),
    ]);
    let most = { bytes: 0, spanMs: 0 };
    let dropped = 0;
    let startedAt = 0;
    try {
      const apiPort = await apiPortOf(relay);
      startedAt = Date.now();
      const publisher = startFfmpeg(
        ['-loglevel', 'error', '-re', '-t', '12', '-i', source, '-c', 'copy', '-f', 'flv'].concat(
          `rtmp://127.0.0.1:${relay.port}/live/glasses/nodns`,
        ),
        60_000,
      );
      await relay.waitForLog((l) => l.msg === 'upstream down: reconnecting', 'the first failed attempt');
      const watch = watchBuffer(apiPort, 'glasses/nodns');
      await new Promise((r) => setTimeout(r, 10_000));
      most = watch.stop();
      dropped = metricValue(await scrapeMetrics(apiPort), 'rinse_frames_dropped_total{reason="outage-buffer-full"}');
      const published = await publisher.done;
      expect(published.stderr).toBe('');
      expect(published.code).toBe(0);
      expect((await fetch(`http://127.0.0.1:${apiPort}/healthz`)).status).toBe(200);
    } finally {
      await relay.stop();
    }
    const tries = attempts(relay, startedAt);
    const gap = largestGapMs(
      tries[0]!.time,
      tries.map((t) => t.time),
    );
    console.log(
      `host not resolving: ${tries.length} attempts (${[...new Set(tries.map((t) => t.code))].join(', ')}), at most ${gap} ms apart; ` +
        `buffer peaked at ${most.bytes} bytes / ${most.spanMs} ms (bound ${bufferMs} ms); ${dropped} frames dropped to the next keyframe`,
    );
    expect(tries.length).toBeGreaterThan(10);
    for (const t of tries) expect(['ENOTFOUND', 'EAI_AGAIN']).toContain(t.code);
    expect(gap).toBeLessThanOrEqual(1000);
    expect(most.spanMs).toBeLessThanOrEqual(bufferMs);
    expect(most.spanMs).toBeGreaterThan(bufferMs - 2500);
    expect(dropped).toBeGreaterThan(0);
    expect(relay.lines.some((l) => l.msg === 'upstream publishing')).toBe(false);
    expect(relay.lines.some((l) => l.code === 'ERR_UPSTREAM_OUTAGE_BUFFER_FULL')).toBe(true);
  }, 90_000);
});
