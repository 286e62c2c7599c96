/**
 * The live relay with real processes on 127.0.0.1: ffmpeg as publisher, RTMPS to a TLS
 * receiver, a receiver killed and restarted mid-stream, a publisher flapping, the cloud
 * lookup against a stand-in HTTP server, stall detection, capture and local mode.
 */
import { createServer, type IncomingMessage } from 'node:http';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readFlv } from '../src/flv/flv-reader.js';
import { encodeFlv } from '../src/flv/flv-writer.js';
import { MIN_KEYFRAME_INTERVAL_MS } from '../src/media/output-contract.js';
import { RtmpClient } from '../src/rtmp/client.js';
import { useFixtures } from './support/fixtures.js';
import { decodeAmf0 } from '../src/media/amf0-reader.js';
import { MessageType, type RtmpMessage } from '../src/rtmp/message-types.js';
import { expectCloudflareClean } from './support/clean-checks.js';
import { JUDGES, expectDecodes } from './support/judges.js';
import { decodeReport, probePackets, startLocalPlayer, testEncode, startLivePublisher } from './support/media.js';
import {
  TEST_CERT,
  TEST_SECRETS,
  TEST_STREAM_KEY,
  expectReceiverClean,
  freePort,
  runReplay,
  startReceiver,
  startRinse,
  startTlsTerminator,
  waitFor,
} from './support/processes.js';
import { TapProxy } from './support/tap-proxy.js';
import { kindOf } from '../src/media/tag-kinds.js';

/** Every judge decodes `file` without an error line and counts `frames` video frames (a number, or a check). */
async function expectDecodedVideo(file: string, frames: number | ((n: number) => void)): Promise<void> {
  await expectDecodes(file);
  for (const judge of JUDGES) {
    const report = await decodeReport(file, judge.ffprobe);
    expect(report.errors, `${judge.label}: ffprobe -count_frames errors`).toBe('');
    if (typeof frames === 'number') expect(report.videoFrames, `${judge.label}: decoded video frames`).toBe(frames);
    else frames(report.videoFrames);
  }
}

/** Video packets of `file` by every judge's ffprobe: the same count for all. */
async function expectVideoPackets(file: string, count: number): Promise<void> {
  for (const judge of JUDGES)
    expect(
      (await probePackets(file, judge.ffprobe)).filter((p) => p.codecType === 'video'),
      judge.label,
    ).toHaveLength(count);
}

/** Coded video messages (not sequence headers) the relay sent on each upstream connection, via a TapProxy. */
function videoBySession(messages: RtmpMessage[]): RtmpMessage[][] {
  const sessions: RtmpMessage[][] = [];
  for (const m of messages) {
    if (m.typeId === MessageType.COMMAND_AMF0 && decodeAmf0(m.payload)[0] === 'connect') sessions.push([]);
    else if (m.typeId === MessageType.VIDEO && m.payload[1] === 1) sessions.at(-1)?.push(m);
  }
  return sessions;
}

const dir = mkdtempSync(join(tmpdir(), 'rinse-live-'));
const rec = join(dir, 'recordings');
const fixture = useFixtures();

describe('relay: live paths', () => {
  it('ffmpeg as the publisher, clean stream, to an ffmpeg receiver', async () => {
    const source = await testEncode({
      size: '1280x720',
      fps: 30,
      seconds: 6,
      videoBitrate: '2500k',
      gop: 60,
      preset: 'superfast',
    });
    const out = join(dir, 'ffmpeg-publisher.flv');
    const receiver = startReceiver(out, await freePort());
    const relay = await startRinse(['--target', receiver.url, '--grace-ms', '300', '--recordings-dir', rec]);
    try {
      const publisher = startLivePublisher(source, `rtmp://127.0.0.1:${relay.port}/live/glasses/one`);
      const published = await publisher.done;
      expect(published.stderr).toBe('');
      expect(published.code).toBe(0);
      expectReceiverClean(await receiver.done);
    } finally {
      receiver.kill();
      await relay.stop();
    }
    await expectCloudflareClean(out, { name: 'ffmpeg-publisher' });
    await expectVideoPackets(out, 180);
  });

  it('over rtmps:// to a TLS receiver (certificate trusted through NODE_EXTRA_CA_CERTS)', async () => {
    const out = join(dir, 'rtmps.flv');
    const receiver = startReceiver(out, await freePort());
    const tlsPort = await freePort();
    const terminator = await startTlsTerminator(tlsPort, receiver.port);
    const relay = await startRinse(
      [
        '--target',
        `rtmps://127.0.0.1:${tlsPort}/live/${TEST_STREAM_KEY}`,
        '--grace-ms',
        '300',
        '--recordings-dir',
        rec,
      ],
      {
        NODE_EXTRA_CA_CERTS: TEST_CERT,
      },
    );
    try {
      const replay = await runReplay(fixture('all-at-once'), `rtmp://127.0.0.1:${relay.port}/live/u/tls`, 4);
      expect(replay.code).toBe(0);
      expectReceiverClean(await receiver.done);
    } finally {
      receiver.kill();
      await relay.stop();
      await terminator.close();
    }
    expect(terminator.connections()).toBe(1);
    await expectCloudflareClean(out, { name: 'rtmps all-at-once' });
  });

  it('refuses an rtmps:// receiver whose certificate it does not trust, and keeps retrying', async () => {
    const receiverPort = await freePort();
    const tlsPort = await freePort();
    const terminator = await startTlsTerminator(tlsPort, receiverPort);
    const relay = await startRinse([
      '--target',
      `rtmps://127.0.0.1:${tlsPort}/live/${TEST_STREAM_KEY}`,
      '--grace-ms',
      '300',
      '--recordings-dir',
      rec,
    ]);
    try {
      const replay = runReplay(fixture('clean-720p30'), `rtmp://127.0.0.1:${relay.port}/live/u/untrusted`, 4);
      const failures = (): number => relay.lines.filter((l) => l.msg === 'upstream down: reconnecting').length;
      await waitFor(() => failures() >= 2, 'two failed upstream attempts');
      expect(relay.lines.some((l) => l.msg === 'upstream publishing')).toBe(false);
      expect((await replay).code).toBe(0);
    } finally {
      await relay.stop();
      await terminator.close();
    }
  });

  it('the receiver is killed mid-stream and restarted: the relay reconnects and resumes with headers and a keyframe, timestamps continuing', async () => {
    const source = await testEncode({
      size: '1280x720',
      fps: 30,
      seconds: 14,
      videoBitrate: '2500k',
      gop: 60,
      preset: 'superfast',
    });
    const port = await freePort();
    const first = join(dir, 'before-kill.flv');
    const second = join(dir, 'after-restart.flv');
    const receiverA = startReceiver(first, port);
    // The receivers rebase their files to 0 (no -copyts), so the relay's own timestamps are
    // read where an ingest sees them: on the wire, through a tap in front of the receivers.
    const tap = await new TapProxy(port).start();
    const relay = await startRinse([
      '--target',
      `rtmp://127.0.0.1:${tap.port}/live/${TEST_STREAM_KEY}`,
      '--grace-ms',
      '300',
      '--recordings-dir',
      rec,
    ]);
    let killedAt = 0;
    let restartedAt = 0;
    try {
      const publisher = startLivePublisher(source, `rtmp://127.0.0.1:${relay.port}/live/glasses/kill`, 60_000);
      await relay.waitForLog((l) => l.msg === 'upstream publishing', 'the first upstream session');
      await new Promise((r) => setTimeout(r, 4000));
      receiverA.child.kill('SIGKILL');
      killedAt = Date.now();
      await receiverA.done;
      await new Promise((r) => setTimeout(r, 1000));
      const receiverB = startReceiver(second, port);
      restartedAt = Date.now();
      const resumed = await relay.waitForLog(
        (l) => l.msg === 'upstream publishing' && l.connects === 2,
        'the second upstream session',
      );
      expect((await publisher.done).code).toBe(0);
      expectReceiverClean(await receiverB.done, 'receiver B');
      // Reported, not asserted (tests do not assert timings): how long the resume took.
      const resumedAt = Number(resumed.time);
      console.log(
        `receiver restart: killed -> restarted ${restartedAt - killedAt} ms, restarted -> publishing again ${resumedAt - restartedAt} ms`,
      );
    } finally {
      receiverA.kill();
      await relay.stop();
      await tap.stop();
    }
    const after = (await probePackets(second)).filter((p) => p.codecType === 'video');
    expect((await probePackets(first)).filter((p) => p.codecType === 'video').length).toBeGreaterThan(60);
    expect(after.length).toBeGreaterThan(120);
    // Resumes with a keyframe (the sequence headers come first: the file decodes from its start)...
    for (const judge of JUDGES)
      expect(
        (await probePackets(second, judge.ffprobe)).find((p) => p.codecType === 'video')?.keyframe,
        judge.label,
      ).toBe(true);
    await expectDecodedVideo(second, after.length);
    // ...and the timeline on the wire continues where it was: no restart at 0. It resumes at the
    // keyframe before what the receiver had acknowledged less its read-ahead (512 KiB, 1.7 s
    // here), so up to two GOPs (4 s) back.
    const sessions = videoBySession(tap.messages);
    expect(sessions).toHaveLength(2);
    const [wireBefore, wireAfter] = [sessions[0]!, sessions[1]!];
    expect(wireAfter.length).toBe(after.length);
    expect(wireAfter[0]!.payload[0]! >> 4, 'the second session starts with a keyframe').toBe(1);
    const lastBefore = wireBefore.at(-1)!.timestampMs;
    expect(wireAfter[0]!.timestampMs).toBeGreaterThanOrEqual(lastBefore - 4100);
    expect(wireAfter[0]!.timestampMs).toBeGreaterThan(1000);
    for (let i = 1; i < wireAfter.length; i++)
      expect(wireAfter[i]!.timestampMs, `wire video DTS ${i}`).toBeGreaterThan(wireAfter[i - 1]!.timestampMs);
  });

  // Without the gap filler (test/gap-filler-live.test.ts has it on): the timeline goes on one frame after the last output.
  it('publisher flap, --gap-filler off: publish, drop 3 s, publish the same path from 0: the receiver sees one connection and one continuous timeline', async () => {
    const out = join(dir, 'flap.flv');
    const receiver = startReceiver(out, await freePort());
    const relay = await startRinse([
      '--target',
      receiver.url,
      '--gap-filler',
      'off',
      '--grace-ms',
      '5000',
      '--recordings-dir',
      rec,
    ]);
    const url = `rtmp://127.0.0.1:${relay.port}/live/glasses/flap`;
    try {
      expect((await runReplay(fixture('clean-720p30'), url, 1)).code).toBe(0);
      await new Promise((r) => setTimeout(r, 3000));
      expect(receiver.child.exitCode).toBeNull(); // still the first connection
      expect((await runReplay(fixture('clean-720p30'), url, 1)).code).toBe(0);
      expectReceiverClean(await receiver.done);
    } finally {
      receiver.kill();
      await relay.stop();
    }
    expect(relay.lines.filter((l) => l.msg === 'upstream publishing')).toHaveLength(1);
    expect(relay.lines.some((l) => l.msg === 'publisher back: continuing the same upstream session')).toBe(true);
    await expectCloudflareClean(out, { minKeyframes: 5, name: 'publisher flap' });
    // One timeline: strictly increasing (checked above) with no gap over a frame or two at the flap.
    for (const judge of JUDGES) {
      const video = (await probePackets(out, judge.ffprobe)).filter((p) => p.codecType === 'video');
      expect(video, judge.label).toHaveLength(360);
      const steps = video.slice(1).map((p, i) => p.dts - video[i]!.dts);
      expect(Math.max(...steps), `${judge.label}: largest video step at the flap`).toBeLessThanOrEqual(70);
    }
  });

  it('publisher reconnect 1 s after a keyframe (the glasses drop at 5 s, back 1.5 s later): every keyframe interval 2-10 s across the seam', async () => {
    // The first session ends 1 s after its keyframe at 4 s; the second starts from 0 with
    // fresh sequence headers, as the glasses' reconnect does.
    const source = readFlv(readFileSync(fixture('glasses-default')));
    const dropped = join(dir, 'drop-at-5s.flv');
    writeFileSync(
      dropped,
      encodeFlv(
        { hasAudio: true, hasVideo: true },
        source.tags.filter((t) => t.tagType === 18 || t.timestampMs < 5000),
      ),
    );
    const out = join(dir, 'seam.flv');
    const receiver = startReceiver(out, await freePort());
    const relay = await startRinse(['--target', receiver.url, '--grace-ms', '5000', '--recordings-dir', rec]);
    const url = `rtmp://127.0.0.1:${relay.port}/live/glasses/seam`;
    try {
      expect((await runReplay(dropped, url, 1)).code).toBe(0);
      await new Promise((r) => setTimeout(r, 1500));
      expect((await runReplay(fixture('glasses-default'), url, 1)).code).toBe(0);
      expectReceiverClean(await receiver.done);
    } finally {
      receiver.kill();
      await relay.stop();
    }
    expect(relay.lines.filter((l) => l.msg === 'upstream publishing')).toHaveLength(1);
    const report = await expectCloudflareClean(out, { minKeyframes: 4, name: 'publisher reconnect at 5 s' });
    for (const judge of JUDGES) {
      const keys = report.figures.keyframes[judge.label];
      expect(keys?.minMs, `${judge.label}: shortest keyframe interval`).toBeGreaterThanOrEqual(
        MIN_KEYFRAME_INTERVAL_MS,
      );
    }
  });

  it('a publisher that stays connected but sends no media is disconnected after --stall-ms', async () => {
    const relay = await startRinse(['--stall-ms', '1000', '--grace-ms', '300', '--recordings-dir', rec]);
    const client = await RtmpClient.connect(`rtmp://127.0.0.1:${relay.port}/live/glasses/stall`);
    try {
      const closed = new Promise<Error | null>((r) => client.once('close', r));
      await client.publish();
      const tags = readFlv(readFileSync(fixture('clean-720p30'))).tags.slice(0, 20);
      for (const t of tags) client.sendMedia(kindOf(t.tagType), t.timestampMs, t.data);
      await closed;
      const ended = await relay.waitForLog((l) => l.msg === 'session ended on error', 'the stalled session to end');
      expect(ended.code).toBe('ERR_RTMP_PUBLISH_STALLED');
      expect(relay.lines.some((l) => l.msg === 'publisher stalled: disconnecting it')).toBe(true);
    } finally {
      await client.close();
      await relay.stop();
    }
  });

  it('--capture-dir writes each incoming stream unmodified', async () => {
    const captureDir = join(dir, 'captures');
    const relay = await startRinse(['--capture-dir', captureDir, '--grace-ms', '300', '--recordings-dir', rec]);
    try {
      expect((await runReplay(fixture('all-at-once'), `rtmp://127.0.0.1:${relay.port}/live/glasses/cap`, 8)).code).toBe(
        0,
      );
      await relay.waitForLog((l) => l.msg === 'capture written', 'the capture file');
    } finally {
      await relay.stop();
    }
    const files = readdirSync(captureDir).filter((f) => f.endsWith('.flv'));
    expect(files).toHaveLength(1);
    const strip = (file: string): Array<[number, number, string]> =>
      readFlv(readFileSync(file)).tags.map((t) => [t.tagType, t.timestampMs, t.data.toString('base64')]);
    expect(strip(join(captureDir, files[0]!))).toEqual(strip(fixture('all-at-once')));
  });

  it('local mode (no destination set): the cleaned stream plays at clean/{userId}/{streamId} and is recorded', async () => {
    const recordings = join(dir, 'local-recordings');
    const relay = await startRinse(['--grace-ms', '300', '--recordings-dir', recordings]);
    const played = join(dir, 'played-clean.flv');
    try {
      const replay = runReplay(fixture('all-at-once'), `rtmp://127.0.0.1:${relay.port}/live/glasses/local`, 1);
      await relay.waitForLog((l) => l.msg === 'publish started', 'the publish');
      const player = startLocalPlayer(relay.port, 'glasses/local', played);
      expectReceiverClean(await player.done, 'player');
      expect((await replay).code).toBe(0);
      await relay.waitForLog((l) => l.msg === 'relay session ended', 'the relay session to end');
    } finally {
      await relay.stop();
    }
    await expectDecodedVideo(played, (n) => expect(n, 'decoded video frames of the played stream').toBeGreaterThan(30));
    const files = readdirSync(recordings).filter((f) => f.endsWith('.flv'));
    expect(files).toHaveLength(1);
    await expectCloudflareClean(join(recordings, files[0]!), { name: 'local recording' });
  });
});

describe('relay: destination lookup against a stand-in cloud API', () => {
  const STREAM_KEY = 'k3y-0f-the-str3am-do-not-log';
  const TOKEN = 'relay-token-never-logged';
  TEST_SECRETS.push(STREAM_KEY, TOKEN);

  it('relays a known stream, rejects a 404 before any media, sends the token, never logs the key', async () => {
    const out = join(dir, 'lookup.flv');
    // The receiver listens on .../live/<key>: the key is part of the upstream URL.
    const receiver = startReceiver(out, await freePort(), 60_000, STREAM_KEY);
    const receiverWithKey = receiver.url;
    const requests: Array<{ url: string; auth: string | undefined }> = [];
    const api = createServer((req: IncomingMessage, res) => {
      requests.push({ url: req.url ?? '', auth: req.headers.authorization });
      if (req.url === '/api/relay/cf-url/glasses/known') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ url: receiverWithKey }));
      } else {
        res.writeHead(404).end();
      }
    });
    await new Promise<void>((r) => api.listen(0, '127.0.0.1', r));
    const apiUrl = `http://127.0.0.1:${(api.address() as { port: number }).port}`;
    const relay = await startRinse(
      ['--cloud-api-url', apiUrl, '--grace-ms', '300', '--log-level', 'debug', '--recordings-dir', rec],
      { RELAY_API_TOKEN: TOKEN },
    );
    try {
      const refused = await runReplay(
        fixture('clean-720p30'),
        `rtmp://127.0.0.1:${relay.port}/live/glasses/unknown`,
        4,
      );
      expect(refused.code).toBe(2);
      expect(refused.stderr).toMatch(/NetStream\.Publish\.BadName/);
      expect(
        relay.lines.some((l) => l.msg === 'publish refused: no destination' && l.path === 'live/glasses/unknown'),
      ).toBe(true);
      expect(relay.lines.some((l) => l.msg === 'publish started' && l.path === 'live/glasses/unknown')).toBe(false);

      const accepted = await runReplay(fixture('clean-720p30'), `rtmp://127.0.0.1:${relay.port}/live/glasses/known`, 4);
      expect(accepted.code).toBe(0);
      expectReceiverClean(await receiver.done);
    } finally {
      receiver.kill();
      await relay.stop();
      await new Promise<void>((r) => api.close(() => r()));
    }
    expect(requests.map((r) => r.url)).toEqual([
      '/api/relay/cf-url/glasses/unknown',
      '/api/relay/cf-url/glasses/known',
    ]);
    for (const r of requests) expect(r.auth).toBe(`Bearer ${TOKEN}`);
    await expectDecodedVideo(out, 180);
    const logs = relay.output();
    expect(logs.length).toBeGreaterThan(1000);
    expect(logs).not.toContain(STREAM_KEY);
    expect(logs).not.toContain(TOKEN);
    expect(logs).toContain('/live/***');
  });
});
