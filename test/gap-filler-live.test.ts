/**
 * The gap filler live: `rinse replay` publishes to `rinse serve`, which relays to a real
 * receiver (ffmpeg -listen) through a tap that notes when each message arrives.
 *
 * - A publisher that drops for 1, 3 and 8 s, its timestamps restarting at 0 each time: one
 *   receiver connection, the output contract across every seam, and the output's media
 *   clock within 200 ms of the wall clock after the three drops (measured and printed).
 * - A publisher connected and silent for 3 s that resumes with its clock 3 s ahead.
 * - A publisher gone for longer than the grace period: the filler stops, FCUnpublish and
 *   deleteStream end the upstream.
 * With `--gap-filler off`, test/relay-live.test.ts's publisher flap is bridged as before.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readFlv } from '../src/flv/flv-reader.js';
import { encodeFlv } from '../src/flv/flv-writer.js';
import { MAX_DTS_STEP_MS, MIN_KEYFRAME_INTERVAL_MS } from '../src/media/output-contract.js';
import { kindOf } from '../src/media/tag-kinds.js';
import { RtmpClient } from '../src/rtmp/client.js';
import { MessageType } from '../src/rtmp/message-types.js';
import { expectCloudflareClean } from './support/clean-checks.js';
import { useFixtures } from './support/fixtures.js';
import { JUDGES, expectDecodes } from './support/judges.js';
import { probePackets, testEncode } from './support/media.js';
import { freePort } from './support/free-port.js';
import { apiPortOf, expectReceiverClean, runReplay, startReceiver, startRinse } from './support/processes.js';
import { startTappedReceiver, type TapProxy } from './support/tap-proxy.js';

const fixture = useFixtures();
const dir = mkdtempSync(join(tmpdir(), 'rinse-gap-live-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The first `ms` of a fixture, as its own file (a publish that drops then). */
function cut(name: string, ms: number): string {
  const source = readFlv(readFileSync(fixture(name)));
  const file = join(dir, `${name}-${ms}.flv`);
  writeFileSync(
    file,
    encodeFlv(
      { hasAudio: true, hasVideo: true },
      source.tags.filter((t) => t.tagType === 18 || t.timestampMs < ms),
    ),
  );
  return file;
}

/** Video messages the tap saw: DTS and arrival. */
function videoArrivals(tap: TapProxy): Array<{ dts: number; atMs: number }> {
  const out: Array<{ dts: number; atMs: number }> = [];
  tap.messages.forEach((m, i) => {
    if (m.typeId === MessageType.VIDEO && m.payload.length > 1 && m.payload[1] === 1)
      out.push({ dts: m.timestampMs, atMs: tap.arrivalsMs[i] as number });
  });
  return out;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
}

/**
 * How far the media clock moved against the wall clock: the offset (DTS - arrival) over the
 * last second against the offset over seconds 1-3 (the start-up burst left out), in ms.
 */
function clockDrift(v: Array<{ dts: number; atMs: number }>): { driftMs: number; worstMs: number } {
  const t0 = (v[0] as { atMs: number }).atMs;
  const end = (v.at(-1) as { atMs: number }).atMs;
  const offsets = v.map((p) => ({ at: p.atMs, off: p.dts - (p.atMs - t0) }));
  const base = median(offsets.filter((o) => o.at - t0 >= 1000 && o.at - t0 < 3000).map((o) => o.off));
  const last = median(offsets.filter((o) => o.at >= end - 1000).map((o) => o.off));
  const worst = Math.max(...offsets.filter((o) => o.at - t0 >= 1000).map((o) => Math.abs(o.off - base)));
  return { driftMs: last - base, worstMs: worst };
}

describe('gap filler, live', () => {
  it('publisher drops for 1, 3 and 8 s, restarting at 0: one connection, the contract holds, the media clock ends within 200 ms of the wall clock', async () => {
    const segment = cut('clean-720p30', 4500);
    const out = join(dir, 'flap.flv');
    const { receiver, tap, target } = await startTappedReceiver(out);
    const relay = await startRinse([
      '--target',
      target,
      '--grace-ms',
      '12000',
      '--drain-timeout-ms',
      '0',
      '--recordings-dir',
      join(dir, 'rec'),
    ]);
    const url = `rtmp://127.0.0.1:${relay.port}/live/glasses/flap`;
    try {
      for (const dropMs of [1000, 3000, 8000]) {
        expect((await runReplay(segment, url, 1)).code).toBe(0);
        await sleep(dropMs);
        expect(receiver.child.exitCode, 'still the first connection').toBeNull();
      }
      expect((await runReplay(segment, url, 1)).code).toBe(0);
      await sleep(1000);
    } finally {
      await relay.stop();
      expectReceiverClean(await receiver.done);
      receiver.kill();
      await tap.stop();
    }
    expect(relay.lines.filter((l) => l.msg === 'upstream publishing')).toHaveLength(1);
    const runs = relay.lines.filter((l) => l.msg === 'gap filler started');
    expect(runs.length, 'a filler run per drop, and one after the last').toBeGreaterThanOrEqual(3);
    expect(runs.slice(0, 3).every((l) => l.reason === 'reconnect')).toBe(true);
    expect(tap.commands).toContain('FCUnpublish');

    const report = await expectCloudflareClean(out, { minKeyframes: 4, name: 'gap filler flap 1/3/8 s' });
    for (const judge of JUDGES) {
      const keys = report.figures.keyframes[judge.label];
      expect(keys?.minMs, `${judge.label}: shortest keyframe interval`).toBeGreaterThanOrEqual(
        MIN_KEYFRAME_INTERVAL_MS,
      );
      expect(keys?.maxMs, `${judge.label}: longest keyframe interval`).toBeLessThanOrEqual(10_000);
      const video = (await probePackets(out, judge.ffprobe)).filter((p) => p.codecType === 'video');
      const steps = video.slice(1).map((p, i) => p.dts - video[i]!.dts);
      expect(Math.max(...steps), `${judge.label}: largest video DTS step`).toBeLessThanOrEqual(MAX_DTS_STEP_MS);
    }
    const { driftMs, worstMs } = clockDrift(videoArrivals(tap));
    console.log(
      `gap filler flap: media clock minus wall clock after drops of 1, 3 and 8 s: ${driftMs} ms (worst along the way ${worstMs} ms)`,
    );
    expect(Math.abs(driftMs)).toBeLessThanOrEqual(200);
    expect(worstMs).toBeLessThanOrEqual(1500);
  }, 120_000);

  it('a publisher connected and silent for 3 s resumes with its clock 3 s ahead: no step over 1 s, no decode error', async () => {
    const tags = readFlv(readFileSync(fixture('clean-720p30'))).tags;
    const out = join(dir, 'stall.flv');
    const receiver = startReceiver(out, await freePort());
    const relay = await startRinse([
      '--target',
      receiver.url,
      // The filler's longest run is the grace period: longer than the stall.
      '--grace-ms',
      '5000',
      '--drain-timeout-ms',
      '0',
      '--recordings-dir',
      join(dir, 'rec'),
    ]);
    const api = `http://127.0.0.1:${await apiPortOf(relay)}`;
    const client = await RtmpClient.connect(`rtmp://127.0.0.1:${relay.port}/live/glasses/stall`);
    let during: { state: string; reason: string | null } | null = null;
    try {
      await client.publish();
      const started = Date.now();
      // Real time from 0 to 3 s; silence for 3 s; then from 3 s on, stamped 3 s ahead.
      for (const t of tags) {
        const ahead = t.timestampMs >= 3000 ? 3000 : 0;
        const dueMs = started + t.timestampMs + ahead;
        if (ahead > 0 && during === null) {
          await sleep(started + 5000 - Date.now());
          const res = await fetch(`${api}/v1/streams/glasses/stall`);
          during = ((await res.json()) as { gapFiller: { state: string; reason: string | null } }).gapFiller;
        }
        if (dueMs > Date.now()) await sleep(dueMs - Date.now());
        if (t.tagType === 18) continue;
        client.sendMedia(kindOf(t.tagType), t.timestampMs + ahead, t.data);
      }
      await sleep(300);
      const metrics = await (await fetch(`${api}/metrics`)).text();
      const frames = /^rinse_gap_filler_frames_total\{reason="stall",track="video"\} (\d+)/m.exec(metrics);
      expect(Number(frames?.[1]), 'filler video frames counted').toBeGreaterThan(60);
      expect(metrics).toMatch(/^rinse_gap_filler_seconds_total\{reason="stall"\} [1-9]/m);
    } finally {
      await client.close();
      await relay.stop();
      expectReceiverClean(await receiver.done);
      receiver.kill();
    }
    const run = relay.lines.find((l) => l.msg === 'gap filler started');
    expect(run?.reason).toBe('stall');
    expect(during, '/v1/streams during the stall').toMatchObject({ state: 'filling', reason: 'stall' });
    await expectDecodes(out);
    for (const judge of JUDGES) {
      const packets = await probePackets(out, judge.ffprobe);
      for (const kind of ['video', 'audio'] as const) {
        const track = packets.filter((p) => p.codecType === kind);
        const steps = track.slice(1).map((p, i) => p.dts - track[i]!.dts);
        expect(Math.max(...steps), `${judge.label}: largest ${kind} DTS step`).toBeLessThanOrEqual(MAX_DTS_STEP_MS);
      }
    }
  }, 60_000);

  it('a publisher gone for longer than the grace period: the filler stops, FCUnpublish and deleteStream end the upstream', async () => {
    const out = join(dir, 'gone.flv');
    const { receiver, tap, target } = await startTappedReceiver(out);
    const relay = await startRinse(['--target', target, '--grace-ms', '2500', '--recordings-dir', join(dir, 'rec')]);
    try {
      expect(
        (await runReplay(cut('clean-720p30', 3000), `rtmp://127.0.0.1:${relay.port}/live/glasses/gone`, 1)).code,
      ).toBe(0);
      await relay.waitForLog(
        (l) => l.msg === 'relay session ended',
        'the session to end after the grace period',
        10_000,
      );
      expectReceiverClean(await receiver.done);
    } finally {
      receiver.kill();
      await relay.stop();
      await tap.stop();
    }
    const started = relay.lines.findIndex((l) => l.msg === 'gap filler started');
    const stopped = relay.lines.findIndex((l) => l.msg === 'gap filler stopped');
    expect(started).toBeGreaterThanOrEqual(0);
    expect(stopped).toBeGreaterThan(started);
    expect(relay.lines[stopped]).toMatchObject({ why: 'session ended' });
    expect(tap.commands.slice(-2)).toEqual(['FCUnpublish', 'deleteStream']);
    await expectDecodes(out);
    // The filler ran for the grace period, less its start margin: the output outlasts the publish by about 2 s.
    const video = (await probePackets(out, JUDGES[0]!.ffprobe)).filter((p) => p.codecType === 'video');
    expect(video.at(-1)!.dts).toBeGreaterThan(4000);
  }, 60_000);

  it('an interlaced (field-coded) stream gets no filler: said once in the log and in /v1/streams, bridged as before', async () => {
    const source = await testEncode({
      size: '640x360',
      fps: 30,
      seconds: 3,
      videoBitrate: '800k',
      gop: 60,
      preset: 'superfast',
      x264Params: 'interlaced=1',
    });
    const relay = await startRinse(['--grace-ms', '3000', '--recordings-dir', join(dir, 'rec')]);
    const api = `http://127.0.0.1:${await apiPortOf(relay)}`;
    try {
      expect((await runReplay(source, `rtmp://127.0.0.1:${relay.port}/live/glasses/fields`, 1)).code).toBe(0);
      await relay.waitForLog((l) => l.msg === 'gap filler unavailable', 'the filler to say why not', 5000);
      const described = (await (await fetch(`${api}/v1/streams/glasses/fields`)).json()) as {
        gapFiller: { state: string; unavailable: string | null; runs: number };
      };
      expect(described.gapFiller).toMatchObject({ state: 'unavailable', runs: 0 });
      expect(described.gapFiller.unavailable).toMatch(/^field-coding/);
      await sleep(1000);
    } finally {
      await relay.stop();
    }
    expect(
      relay.lines.filter((l) => l.msg === 'gap filler unavailable'),
      'said once',
    ).toHaveLength(1);
    expect(relay.lines.some((l) => l.msg === 'gap filler started')).toBe(false);
  }, 60_000);
});
