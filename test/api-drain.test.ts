/**
 * Operations against a live `rinse serve` process while a stream flows: every HTTP endpoint
 * (health, readiness, the seed's health path, Prometheus metrics that move with the stream,
 * per-stream JSON, the bearer token), the graceful drain on SIGTERM (readyz 503 at once, the
 * stream runs to its end, FCUnpublish upstream, exit 0), and bad settings failing the start.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useFixtures } from './support/fixtures.js';
import { probePackets } from './support/media.js';
import { JUDGES } from './support/judges.js';
import {
  BIN,
  TEST_SECRETS,
  expectReceiverClean,
  freePort,
  runProcess,
  apiPortOf,
  runReplay,
  startReceiver,
  startRinse,
} from './support/processes.js';
import { startTappedReceiver } from './support/tap-proxy.js';

const dir = mkdtempSync(join(tmpdir(), 'rinse-ops-'));
const fixture = useFixtures();
const TOKEN = 'api-token-for-tests';
TEST_SECRETS.push(TOKEN, 'secret-stream-key', 'api-secret', 'relay-secret');

/** Prometheus text exposition: every sample line is `name{labels} value`. Returns samples by series. */
function parsePrometheus(text: string): Map<string, number> {
  const samples = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (-?[0-9.eE+-]+|NaN|[+-]Inf)$/.exec(line);
    if (!m) throw new Error(`not Prometheus text: ${line}`);
    samples.set(m[1] as string, Number(m[2]));
  }
  return samples;
}

describe('HTTP API and graceful drain of a live rinse serve', () => {
  it('answers every endpoint while a stream flows; metrics parse and move with the stream', async () => {
    const receiver = startReceiver(join(dir, 'api.flv'), await freePort());
    const relay = await startRinse([
      '--target',
      receiver.url,
      '--grace-ms',
      '300',
      '--api-token',
      TOKEN,
      '--recordings-dir',
      join(dir, 'rec'),
    ]);
    const api = `http://127.0.0.1:${await apiPortOf(relay)}`;
    const get = (path: string, token: string | null = TOKEN): Promise<Response> =>
      fetch(`${api}${path}`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
    try {
      const replay = runReplay(fixture('all-at-once'), `rtmp://127.0.0.1:${relay.port}/live/glasses/api-test`, 1);
      await relay.waitForLog((l) => l.msg === 'publish started', 'the publish');
      await new Promise((r) => setTimeout(r, 1500));

      expect((await get('/healthz', null)).status).toBe(200);
      const ready = await get('/readyz', null);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toMatchObject({
        status: 'ready',
        rtmpListening: true,
        notDraining: true,
        ffmpegFound: true,
      });
      expect((await get('/v3/config/get', null)).status).toBe(200);
      expect((await get('/metrics', null)).status).toBe(401);
      expect((await get('/v1/streams', 'wrong')).status).toBe(401);

      const first = await get('/metrics');
      expect(first.status).toBe(200);
      expect(first.headers.get('content-type')).toMatch(/^text\/plain/);
      const m1 = parsePrometheus(await first.text());
      // A session that ends on a protocol error is counted by its code (C0 must be 3).
      const bad = connect(relay.port, '127.0.0.1', () => bad.write(Buffer.alloc(1537, 4)));
      bad.on('error', () => {});
      await relay.waitForLog((l) => l.code === 'ERR_RTMP_HANDSHAKE_VERSION', 'the bad session to end');
      bad.destroy();
      await new Promise((r) => setTimeout(r, 1000));
      const m2 = parsePrometheus(await (await get('/metrics')).text());
      expect(m2.get('rinse_publishers_active')).toBe(1);
      expect(m2.get('rinse_rtmp_sessions_ended_total{code="ERR_RTMP_HANDSHAKE_VERSION"}')).toBe(1);
      expect(m2.get('rinse_streams{mode="remux"}')).toBe(1);
      expect(m2.get('rinse_upstream_sessions{state="live"}')).toBe(1);
      expect(m2.get('rinse_frames_in_total{track="video"}')!).toBeGreaterThan(
        m1.get('rinse_frames_in_total{track="video"}')!,
      );
      expect(m2.get('rinse_frames_out_total{track="video"}')!).toBeGreaterThan(
        m1.get('rinse_frames_out_total{track="video"}')!,
      );
      expect(m2.get('rinse_bytes_out_total')!).toBeGreaterThan(m1.get('rinse_bytes_out_total')!);
      expect(m2.get('rinse_repairs_total{kind="idr-demoted"}')!).toBeGreaterThan(0);
      expect(m2.get('rinse_added_latency_seconds_count')!).toBeGreaterThan(0);
      expect(m2.get('rinse_keyframe_interval_seconds_count')!).toBeGreaterThan(0);
      expect(m2.has('rinse_transcodes_active')).toBe(true);
      expect(m2.has('rinse_upstream_reconnects_total')).toBe(true);
      expect(m2.has('rinse_publisher_reconnects_bridged_total')).toBe(true);

      const list = (await (await get('/v1/streams')).json()) as { streams: Array<Record<string, unknown>> };
      expect(list.streams).toHaveLength(1);
      const one = (await (await get('/v1/streams/glasses/api-test')).json()) as Record<string, any>;
      expect(one).toMatchObject({ userId: 'glasses', streamId: 'api-test', mode: 'remux', modeReason: null });
      expect(one.publisher.address).toMatch(/^127\.0\.0\.1:\d+$/);
      expect(one.video).toMatchObject({ codec: 'avc', width: 1280, height: 720, fps: 30 });
      expect(one.audio).toMatchObject({ codec: 'aac', sampleRate: 44100 });
      expect(one.bitrateKbps).toBeGreaterThan(500);
      expect(one.repairs['adts-stripped'].count).toBeGreaterThan(0);
      expect(one.destination).toMatchObject({
        kind: 'rtmp',
        url: `rtmp://127.0.0.1:${receiver.port}/live/***`,
        state: 'live',
      });
      expect((await get('/v1/streams/glasses/nope')).status).toBe(404);
      expect((await replay).code).toBe(0);
    } finally {
      receiver.kill();
      await relay.stop();
    }
    // Every line about the stream names it, and once its publisher is attached, the session.
    const about = relay.lines.filter((l) => l.relay === 'live/glasses/api-test' || l.path === 'live/glasses/api-test');
    expect(about.length).toBeGreaterThan(5);
    for (const line of about) expect(line, String(line.msg)).toMatchObject({ userId: 'glasses', streamId: 'api-test' });
    const withoutSession = about
      .filter((l) => l.msg !== 'relay session started' && typeof l.session !== 'string')
      .map((l) => l.msg);
    expect(withoutSession).toEqual([]);
  });

  it('SIGTERM during a live stream: readyz 503 at once, the stream runs to its end, FCUnpublish upstream, exit 0', async () => {
    const out = join(dir, 'drain.flv');
    const { receiver, tap, target } = await startTappedReceiver(out);
    const relay = await startRinse([
      '--target',
      target,
      '--grace-ms',
      '300',
      '--drain-timeout-ms',
      '20000',
      '--recordings-dir',
      join(dir, 'rec'),
    ]);
    const api = `http://127.0.0.1:${await apiPortOf(relay)}`;
    try {
      const replay = runReplay(fixture('clean-720p30'), `rtmp://127.0.0.1:${relay.port}/live/glasses/drain`, 1);
      await relay.waitForLog((l) => l.msg === 'upstream publishing', 'the upstream');
      await new Promise((r) => setTimeout(r, 1000));
      relay.child.kill('SIGTERM');
      await relay.waitForLog((l) => l.msg === 'draining', 'the drain to start');
      expect((await fetch(`${api}/readyz`)).status).toBe(503);
      // A new publisher is turned away while the live one goes on.
      const refused = await runReplay(fixture('clean-720p30'), `rtmp://127.0.0.1:${relay.port}/live/glasses/late`, 8);
      expect(refused.code).toBe(2);
      expect((await replay).code).toBe(0);
      expectReceiverClean(await receiver.done);
      expect(await relay.exited()).toBe(0);
    } finally {
      receiver.kill();
      await relay.stop();
      await tap.stop();
    }
    expect(tap.commands).toContain('FCUnpublish');
    expect(tap.commands).toContain('deleteStream');
    const drained = relay.lines.find((l) => l.msg === 'drained: exiting');
    expect(drained).toMatchObject({ endedOnTheirOwn: 1, closed: 0 });
    for (const judge of JUDGES)
      expect(
        (await probePackets(out, judge.ffprobe)).filter((p) => p.codecType === 'video'),
        judge.label,
      ).toHaveLength(180);
  });

  it('a bad value in rinse.yml or in the env fails the start naming the key; config check redacts secrets', async () => {
    const bad = join(dir, 'bad.yml');
    writeFileSync(bad, 'rtmpPort: 1935\ngraceMs: soon\n');
    const fromFile = await runProcess(process.execPath, [BIN, 'serve', '--config', bad], 30_000);
    expect(fromFile.code).toBe(2);
    expect(fromFile.stderr).toMatch(/config "graceMs": expected a whole number, got "soon"/);
    const badEnv = await runProcess(process.execPath, [BIN, 'serve'], 30_000, { RINSE_STALL_MS: '-5' });
    expect(badEnv.code).toBe(2);
    expect(badEnv.stderr).toMatch(/env RINSE_STALL_MS: expected a whole number/);

    const good = join(dir, 'good.yml');
    writeFileSync(
      good,
      'rtmpPort: 19350\ntarget: rtmps://live.example.com:443/live/secret-stream-key\napiToken: api-secret\n',
    );
    const check = await runProcess(process.execPath, [BIN, 'config', 'check', '--config', good], 30_000, {
      RELAY_API_TOKEN: 'relay-secret',
    });
    expect(check.code).toBe(0);
    expect(check.stdout).toMatch(/rtmpPort: 19350/);
    expect(check.stdout).toMatch(/target: rtmps:\/\/live\.example\.com:443\/live\/\*\*\*/);
    for (const secret of ['secret-stream-key', 'api-secret', 'relay-secret'])
      expect(check.stdout).not.toContain(secret);
    expect(check.stdout).toMatch(/apiToken: "\*\*\*"/);
  });
});
