/**
 * Floods from one address over real sockets, while a good publisher (FFmpeg, from another
 * address) streams: idle connections that never handshake, slowloris connects after the
 * handshake, and a burst of new connections. Each is closed or refused by its own limit,
 * with its code, and the good publisher's every frame arrives.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeAmf0 } from '../src/media/amf0-writer.js';
import { ChunkWriter } from '../src/rtmp/chunk-writer.js';
import { RtmpErrorCode } from '../src/rtmp/errors.js';
import { MessageType } from '../src/rtmp/message-types.js';
import { startGoodPublisher, type GoodPublisher } from './support/good-publisher.js';
import { RawClient, trickle } from './support/raw-client.js';
import { startTestServer, waitFor, type TestServer } from './support/server.js';

const LIMITS = {
  handshakeTimeoutMs: 1000,
  connectTimeoutMs: 1500,
  publishTimeoutMs: 1500,
  idleTimeoutMs: 3000,
  maxConnectionsPerAddress: 40,
  maxNewConnectionsPerSecond: 0,
};
/** Each flood comes from its own loopback address; the good publisher from 127.0.0.1. */
const IDLE_FLOOD_FROM = '127.0.0.2';
const SLOWLORIS_FROM = '127.0.0.3';

/** The connect command, as one chunk, for trickling. */
function connectBytes(): Buffer {
  return new ChunkWriter().write(3, {
    typeId: MessageType.COMMAND_AMF0,
    streamId: 0,
    timestampMs: 0,
    payload: encodeAmf0('connect', 1, { app: 'live' }),
  });
}

async function openMany(port: number, from: string, n: number): Promise<RawClient[]> {
  return Promise.all(Array.from({ length: n }, () => RawClient.open(port, from)));
}

/** Milliseconds until every client is closed by the server. */
async function allClosedWithin(clients: RawClient[], timeoutMs: number): Promise<number> {
  const start = Date.now();
  await waitFor(() => clients.every((c) => c.ended), timeoutMs, 'every flood connection closed');
  return Date.now() - start;
}

function closedWith(srv: TestServer, clients: RawClient[], code: string): number {
  const remotes = new Set(clients.map((c) => c.remote));
  return srv.closed.filter((c) => remotes.has(c.remote) && c.code === code).length;
}

describe('floods from one address leave a good publisher unharmed', () => {
  let srv: TestServer;
  let good: GoodPublisher;

  beforeAll(async () => {
    srv = await startTestServer(LIMITS);
    good = await startGoodPublisher(srv);
  });

  afterAll(async () => {
    good.ffmpeg.child.kill('SIGKILL');
    await srv.stop();
  });

  it('an idle flood: the per-address cap refuses the excess at once, the handshake deadline closes the rest', async () => {
    const flood = await openMany(srv.port, IDLE_FLOOD_FROM, 100);
    const ms = await allClosedWithin(flood, 5000);
    const refused = srv.server.stats.sessionErrors.get(RtmpErrorCode.ADDRESS_LIMIT) ?? 0;
    expect(refused).toBe(100 - LIMITS.maxConnectionsPerAddress);
    expect(closedWith(srv, flood, RtmpErrorCode.HANDSHAKE_TIMEOUT)).toBe(LIMITS.maxConnectionsPerAddress);
    // One log line per second of refusals, not one per connection.
    const lines = srv.logLines.filter((l) => l.code === RtmpErrorCode.ADDRESS_LIMIT).length;
    expect(lines).toBeGreaterThanOrEqual(1);
    expect(lines).toBeLessThan(5);
    process.stdout.write(`idle flood of 100: ${refused} refused, the rest closed; all gone in ${ms} ms\n`);
  });

  it('a slowloris connect after the handshake is closed by the connect deadline, whatever trickles in', async () => {
    const slow = await openMany(srv.port, SLOWLORIS_FROM, 20);
    await Promise.all(slow.map((c) => c.handshake()));
    const bytes = connectBytes();
    for (const c of slow) trickle(c, bytes, 200);
    const ms = await allClosedWithin(slow, 6000);
    expect(closedWith(srv, slow, RtmpErrorCode.CONNECT_TIMEOUT)).toBe(20);
    process.stdout.write(`slowloris of 20 after the handshake: all closed in ${ms} ms (deadline 1500 ms)\n`);
  });

  it('a burst of new connections from one address is refused past the per-second rate', async () => {
    const gate = await startTestServer({ ...LIMITS, maxNewConnectionsPerSecond: 10 });
    try {
      const burst = await openMany(gate.port, IDLE_FLOOD_FROM, 30);
      await allClosedWithin(burst, 5000);
      const refused = gate.server.stats.sessionErrors.get(RtmpErrorCode.ADDRESS_RATE) ?? 0;
      // The burst may straddle a second boundary: at most 20 get in over two windows.
      expect(refused).toBeGreaterThanOrEqual(10);
      expect(refused).toBeLessThanOrEqual(20);
    } finally {
      await gate.stop();
    }
  });

  it('the good publisher streamed on unharmed: every video frame arrived', async () => {
    const result = await good.ffmpeg.done;
    expect(result.code).toBe(0);
    await waitFor(() => good.recorder.unpublishes === 1, 10_000, 'the good publish to end');
    expect(good.recorder.media('video').filter((f) => f.payload[1] !== 2).length).toBe(good.expectedVideo);
    expect(srv.closed.filter((c) => c.remote.startsWith('127.0.0.1:') && c.code !== undefined)).toEqual([]);
  });
});
