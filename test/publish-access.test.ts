/**
 * Who may publish, over real sockets against the RTMP server: the publish token (missing,
 * malformed, wrong, expired, in each place clients carry a URL's query), a hijack of a live
 * path, and the reconnects that must keep working (old connection reset, or half-open and
 * silent; the same token at once).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { signPublishToken } from '../src/media/publish-token.js';
import { RtmpErrorCode } from '../src/rtmp/errors.js';
import { MessageType } from '../src/rtmp/message-types.js';
import { RawClient } from './support/raw-client.js';
import { FrameRecorder, startTestServer, waitFor, type TestServer } from './support/server.js';

const SECRET = 'publish-secret-new';
const OLD_SECRET = 'publish-secret-old';
const HOUR_MS = 3_600_000;

/** AVC bodies: the hub reads only the header bytes; the tail marks which publisher sent it. */
function keyframe(mark: number): Buffer {
  return Buffer.from([0x17, 0x01, 0, 0, 0, 0, 0, 0, 1, 0x65, mark]);
}
function interframe(mark: number): Buffer {
  return Buffer.from([0x27, 0x01, 0, 0, 0, 0, 0, 0, 1, 0x41, mark]);
}

function tokenFor(path: string, secret = SECRET, expiresAtMs = Date.now() + HOUR_MS): string {
  return signPublishToken(secret, path, expiresAtMs);
}

function sendVideo(c: RawClient, streamId: number, timestampMs: number, payload: Buffer): void {
  c.send(6, { typeId: MessageType.VIDEO, streamId, timestampMs, payload });
}

/** Everything the server logged, as one string (to show no token is in it). */
function logText(srv: TestServer): string {
  return srv.logLines.map((l) => JSON.stringify(l)).join('\n');
}

describe('publish tokens', () => {
  let srv: TestServer;
  afterEach(async () => {
    await srv.stop();
  });

  it('accepts a valid token in the publish name, the connect app or the tcUrl, signed with any accepted secret', async () => {
    srv = await startTestServer({}, { publishSecrets: [SECRET, OLD_SECRET] });
    const inName = await RawClient.publish(srv.port, `u1/s1?token=${tokenFor('live/u1/s1')}`);
    expect(inName.status).toBe('NetStream.Publish.Start');
    const inApp = await RawClient.publish(srv.port, 'u1/s2', { app: `live?token=${tokenFor('live/u1/s2')}` });
    expect(inApp.status).toBe('NetStream.Publish.Start');
    const inTcUrl = await RawClient.publish(srv.port, 'u1/s3', {
      tcUrl: `rtmp://127.0.0.1:1935/live?token=${tokenFor('live/u1/s3', OLD_SECRET)}`,
    });
    expect(inTcUrl.status).toBe('NetStream.Publish.Start');
    expect(srv.registry.publishedPaths().sort()).toEqual(['live/u1/s1', 'live/u1/s2', 'live/u1/s3']);
    for (const p of [inName, inApp, inTcUrl]) p.client.destroy();
    expect(logText(srv)).not.toContain('token=');
  });

  it.each([
    ['missing', 'u1/s1', 'publish token missing'],
    ['malformed', 'u1/s1?token=v1.abc.def', 'publish token malformed'],
    ['for another path', `u1/s1?token=${tokenFor('live/u1/other')}`, 'publish token invalid'],
    ['signed with an unknown secret', `u1/s1?token=${tokenFor('live/u1/s1', 'not-ours')}`, 'publish token invalid'],
    ['expired', `u1/s1?token=${tokenFor('live/u1/s1', SECRET, Date.now() - 1000)}`, 'publish token expired'],
  ])(
    'refuses a %s token with BadName before any media, logged with a code and without the token',
    async (_, name, reason) => {
      srv = await startTestServer({}, { publishSecrets: [SECRET] });
      const recorder = new FrameRecorder();
      srv.registry.subscribe('live/u1/s1', recorder);
      const p = await RawClient.publish(srv.port, name);
      expect(p.status).toBe('NetStream.Publish.BadName');
      expect(p.description).toBe(reason);
      // Media sent right behind the refused publish is never taken.
      sendVideo(p.client, p.streamId, 0, keyframe(1));
      expect(await p.client.closedBy(3000)).toBe(true);
      expect(recorder.frames).toEqual([]);
      expect(recorder.publishes).toBe(0);
      const line = srv.logLines.find((l) => l.msg === 'publish refused');
      expect(line?.code).toBe(RtmpErrorCode.PUBLISH_UNAUTHORIZED);
      expect(srv.closed.some((c) => c.code === RtmpErrorCode.PUBLISH_UNAUTHORIZED)).toBe(true);
      const token = new URLSearchParams(name.split('?')[1] ?? '').get('token');
      if (token) expect(logText(srv)).not.toContain(token);
    },
  );

  it('needs no token without secrets (local mode)', async () => {
    srv = await startTestServer();
    const p = await RawClient.publish(srv.port, 'u1/s1');
    expect(p.status).toBe('NetStream.Publish.Start');
    p.client.destroy();
  });
});

describe('publisher replacement', () => {
  let srv: TestServer;
  afterEach(async () => {
    await srv.stop();
  });

  /** A publisher that sends a GOP of frames every 40 ms, each marked with `mark`, until stopped. */
  function stream(c: RawClient, streamId: number, mark: number): { stop(): void } {
    let n = 0;
    const timer = setInterval(() => {
      sendVideo(c, streamId, n * 40, n % 25 === 0 ? keyframe(mark) : interframe(mark));
      n++;
    }, 40);
    return { stop: () => clearInterval(timer) };
  }

  it('refuses a hijack of a live path (no token, local mode): the broadcast carries only the real publisher', async () => {
    srv = await startTestServer();
    const recorder = new FrameRecorder();
    srv.registry.subscribe('live/u1/s1', recorder);
    const real = await RawClient.publish(srv.port, 'u1/s1');
    const media = stream(real.client, real.streamId, 1);
    await waitFor(() => recorder.frames.length >= 5, 3000, 'the real publisher streaming');
    const intruder = await RawClient.publish(srv.port, 'u1/s1');
    expect(intruder.status).toBe('NetStream.Publish.BadName');
    expect(intruder.description).toBe('already publishing');
    sendVideo(intruder.client, intruder.streamId, 0, keyframe(2));
    expect(await intruder.client.closedBy(3000)).toBe(true);
    const before = recorder.frames.length;
    await waitFor(() => recorder.frames.length >= before + 10, 3000, 'the real publisher going on');
    media.stop();
    expect(real.client.ended).toBe(false);
    expect(recorder.publishes).toBe(1);
    expect(recorder.frames.every((f) => f.payload.at(-1) === 1)).toBe(true);
    expect(srv.closed.some((c) => c.code === RtmpErrorCode.PUBLISH_BUSY)).toBe(true);
    real.client.destroy();
  });

  it('refuses a hijack that has a valid token of its own while the real publisher with another token is live', async () => {
    srv = await startTestServer({}, { publishSecrets: [SECRET] });
    const recorder = new FrameRecorder();
    srv.registry.subscribe('live/u1/s1', recorder);
    const real = await RawClient.publish(srv.port, `u1/s1?token=${tokenFor('live/u1/s1')}`);
    const media = stream(real.client, real.streamId, 1);
    await waitFor(() => recorder.frames.length >= 5, 3000, 'the real publisher streaming');
    const other = tokenFor('live/u1/s1', SECRET, Date.now() + 2 * HOUR_MS);
    const intruder = await RawClient.publish(srv.port, `u1/s1?token=${other}`);
    expect(intruder.status).toBe('NetStream.Publish.BadName');
    expect(await intruder.client.closedBy(3000)).toBe(true);
    media.stop();
    expect(recorder.frames.every((f) => f.payload.at(-1) === 1)).toBe(true);
    real.client.destroy();
  });

  it('lets the same token take over at once (the device reconnecting)', async () => {
    srv = await startTestServer({}, { publishSecrets: [SECRET], staleAfterMs: 60_000 });
    const name = `u1/s1?token=${tokenFor('live/u1/s1')}`;
    const recorder = new FrameRecorder();
    srv.registry.subscribe('live/u1/s1', recorder);
    const first = await RawClient.publish(srv.port, name);
    const media = stream(first.client, first.streamId, 1);
    await waitFor(() => recorder.frames.length >= 3, 3000, 'the first connection streaming');
    const second = await RawClient.publish(srv.port, name);
    expect(second.status).toBe('NetStream.Publish.Start');
    media.stop();
    expect(await first.client.closedBy(3000)).toBe(true);
    second.client.destroy();
  });

  it('lets a reconnect take over from a half-open, silent old connection', async () => {
    srv = await startTestServer({}, { staleAfterMs: 500 });
    const recorder = new FrameRecorder();
    srv.registry.subscribe('live/u1/s1', recorder);
    const old = await RawClient.publish(srv.port, 'u1/s1');
    sendVideo(old.client, old.streamId, 0, keyframe(1));
    await waitFor(() => recorder.frames.length === 1, 3000, 'the old connection frame');
    // The old connection stays open and silent; the reconnect arrives at once and waits it out.
    const fresh = await RawClient.publish(srv.port, 'u1/s1');
    expect(fresh.status).toBe('NetStream.Publish.Start');
    expect(await old.client.closedBy(3000)).toBe(true);
    sendVideo(fresh.client, fresh.streamId, 0, keyframe(2));
    await waitFor(() => recorder.frames.length === 2, 3000, 'the reconnected frame');
    expect(recorder.frames.map((f) => f.payload.at(-1))).toEqual([1, 2]);
    fresh.client.destroy();
  });

  it('lets a reconnect publish at once after the old connection was reset', async () => {
    srv = await startTestServer({}, { staleAfterMs: 60_000 });
    const recorder = new FrameRecorder();
    srv.registry.subscribe('live/u1/s1', recorder);
    const old = await RawClient.publish(srv.port, 'u1/s1');
    const media = stream(old.client, old.streamId, 1);
    await waitFor(() => recorder.frames.length >= 3, 3000, 'the old connection streaming');
    media.stop();
    old.client.socket.resetAndDestroy();
    await waitFor(() => srv.registry.publishedPaths().length === 0, 3000, 'the reset noticed');
    const fresh = await RawClient.publish(srv.port, 'u1/s1');
    expect(fresh.status).toBe('NetStream.Publish.Start');
    fresh.client.destroy();
  });
});
