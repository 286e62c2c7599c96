/**
 * Session-level protocol behaviour over real sockets: acknowledgements, ping, the
 * publish command flow and its answers, publisher replacement, and the connection limit.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { decodeAmf0 } from '../src/media/amf0-reader.js';
import { RtmpErrorCode } from '../src/rtmp/errors.js';
import { MessageType, UserControlEvent } from '../src/rtmp/message-types.js';
import { RawClient, isCommand, statusCode } from './support/raw-client.js';
import { FrameRecorder, startTestServer, waitFor, type TestServer } from './support/server.js';

/** Handshake, connect, createStream, publish on `path`; resolves after NetStream.Publish.Start. */
async function publisher(srv: TestServer, name: string): Promise<RawClient> {
  const { client, status } = await RawClient.publish(srv.port, name);
  expect(status).toBe('NetStream.Publish.Start');
  return client;
}

/** An AVC keyframe body (not a real picture; the registry only reads the header bytes). */
const KEYFRAME = Buffer.from('1701000000000000016588', 'hex');

describe('session protocol', () => {
  let srv: TestServer;
  afterEach(async () => {
    await srv.stop();
  });

  it('answers connect with window, bandwidth, chunk size and NetConnection.Connect.Success', async () => {
    srv = await startTestServer();
    const c = await RawClient.open(srv.port);
    await c.handshake();
    c.connectApp();
    const result = await c.waitForMessage(isCommand('_result'), 3000);
    const [, txn, props, info] = decodeAmf0(result.payload) as [
      string,
      number,
      { fmsVer: string },
      { code: string; objectEncoding: number },
    ];
    expect(txn).toBe(1);
    expect(props.fmsVer).toMatch(/^FMS\//);
    expect(info.code).toBe('NetConnection.Connect.Success');
    expect(info.objectEncoding).toBe(0);
    const types = c.messages.map((m) => m.typeId);
    expect(types.slice(0, 3)).toEqual([
      MessageType.WINDOW_ACK_SIZE,
      MessageType.SET_PEER_BANDWIDTH,
      MessageType.SET_CHUNK_SIZE,
    ]);
    c.destroy();
  });

  it('sends an Acknowledgement each time the window announced by the peer fills', async () => {
    srv = await startTestServer();
    const c = await publisher(srv, 'u/ack');
    c.send(2, {
      typeId: MessageType.WINDOW_ACK_SIZE,
      streamId: 0,
      timestampMs: 0,
      payload: Buffer.from('00002710', 'hex'),
    }); // 10000 bytes
    const acks = (): number[] =>
      c.messages.filter((m) => m.typeId === MessageType.ACKNOWLEDGEMENT).map((m) => m.payload.readUInt32BE(0));
    let ts = 0;
    for (const burst of [1, 2]) {
      for (let i = 0; i < 12; i++)
        c.send(6, {
          typeId: MessageType.VIDEO,
          streamId: 1,
          timestampMs: (ts += 33),
          payload: Buffer.alloc(1000, 0x27),
        });
      await waitFor(() => acks().length >= burst, 3000, `acknowledgement ${burst}`);
    }
    const [first, second] = acks() as [number, number];
    expect(first).toBeGreaterThanOrEqual(10_000);
    expect(second - first).toBeGreaterThanOrEqual(10_000);
    c.destroy();
  });

  it('answers a PingRequest with a PingResponse carrying the same timestamp', async () => {
    srv = await startTestServer();
    const c = await RawClient.open(srv.port);
    await c.handshake();
    c.send(2, {
      typeId: MessageType.USER_CONTROL,
      streamId: 0,
      timestampMs: 0,
      payload: Buffer.from('0006' + '0001e240', 'hex'),
    });
    const pong = await c.waitForMessage(
      (m) => m.typeId === MessageType.USER_CONTROL && m.payload.readUInt16BE(0) === UserControlEvent.PING_RESPONSE,
      3000,
    );
    expect(pong.payload.readUInt32BE(2)).toBe(123456);
    c.destroy();
  });

  it('rejects a publish to a path that is not app/userId/streamId with NetStream.Publish.BadName', async () => {
    srv = await startTestServer();
    const c = await RawClient.open(srv.port);
    await c.handshake();
    c.connectApp();
    c.command(0, 'createStream', 2, null);
    await c.waitForMessage((m) => isCommand('_result')(m) && decodeAmf0(m.payload)[1] === 2, 3000);
    c.command(1, 'publish', 3, null, 'only-one-segment', 'live');
    const status = await c.waitForMessage(isCommand('onStatus'), 3000);
    expect(statusCode(status)).toBe('NetStream.Publish.BadName');
    expect(await c.closedBy(3000)).toBe(true);
    expect(srv.registry.publishedPaths()).toEqual([]);
  });

  it('lets a new publisher replace a stale one on the same path; subscribers stay attached', async () => {
    srv = await startTestServer();
    const recorder = new FrameRecorder();
    srv.registry.subscribe('live/u/replace', recorder);
    const first = await publisher(srv, 'u/replace');
    first.send(6, { typeId: MessageType.VIDEO, streamId: 1, timestampMs: 0, payload: KEYFRAME });
    await waitFor(() => recorder.frames.length === 1, 3000, 'the first publisher frame');
    // The glasses reconnect before the old TCP session times out.
    const second = await publisher(srv, 'u/replace');
    expect(await first.closedBy(3000)).toBe(true);
    second.send(6, { typeId: MessageType.VIDEO, streamId: 1, timestampMs: 0, payload: KEYFRAME });
    await waitFor(() => recorder.frames.length === 2, 3000, 'the second publisher frame');
    expect(recorder.publishes).toBe(2);
    expect(srv.registry.publishedPaths()).toEqual(['live/u/replace']);
    expect(srv.logLines.some((l) => l.msg === 'publisher replaced by a new session on the same path')).toBe(true);
    second.destroy();
  });

  it('refuses connections over the limit with ERR_RTMP_CONNECTION_LIMIT and keeps serving the others', async () => {
    srv = await startTestServer({ maxConnections: 2 });
    const a = await RawClient.open(srv.port);
    const b = await RawClient.open(srv.port);
    await waitFor(() => srv.server.sessionCount === 2, 3000, 'two sessions');
    const c = await RawClient.open(srv.port);
    expect(await c.closedBy(3000)).toBe(true);
    expect(srv.server.stats.sessionErrors.get(RtmpErrorCode.CONNECTION_LIMIT)).toBe(1);
    expect(srv.logLines.some((l) => l.code === RtmpErrorCode.CONNECTION_LIMIT)).toBe(true);
    await a.handshake();
    await b.handshake();
    expect(a.ended || b.ended).toBe(false);
    a.destroy();
    b.destroy();
  });
});
