/**
 * Hostile and broken peers: each kind of malformed input ends only its own session,
 * with a stable error code, while a real ffmpeg publisher streams on unharmed and the
 * process keeps running.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeAmf0 } from '../src/media/amf0-writer.js';
import { RtmpErrorCode } from '../src/rtmp/errors.js';
import { MessageType } from '../src/rtmp/message-types.js';
import { RawClient, trickle } from './support/raw-client.js';
import { startTestServer, waitFor, type TestServer } from './support/server.js';
import { startGoodPublisher, type GoodPublisher } from './support/good-publisher.js';

const LIMITS = {
  handshakeTimeoutMs: 1000,
  idleTimeoutMs: 1500,
  // Longer than the idle timeout, so only a trickle (which defeats that) reaches them.
  connectTimeoutMs: 2500,
  publishTimeoutMs: 2500,
  maxChunkStreams: 32,
  maxMessageBytes: 2 * 1024 * 1024,
  maxBufferedBytes: 6 * 1024 * 1024,
};

interface Case {
  name: string;
  code: string;
  /** Drives the client; the handshake is done first unless `raw` is set. */
  run(client: RawClient): Promise<void> | void;
  raw?: boolean;
}

/** A type-0 header on csid 3, message stream 0, for a message of `length` bytes of type `typeId`. */
function header(csid: number, typeId: number, length: number, streamId = 0): Buffer {
  const b = Buffer.alloc(12);
  b[0] = csid;
  b.writeUIntBE(length, 4, 3);
  b[7] = typeId;
  b.writeUInt32LE(streamId, 8);
  return b;
}

function command(body: Buffer): Buffer {
  return Buffer.concat([header(3, MessageType.COMMAND_AMF0, body.length), body]);
}

const CASES: Case[] = [
  {
    name: 'a bad C0 version',
    code: RtmpErrorCode.HANDSHAKE_VERSION,
    raw: true,
    run: (c) => c.write(Buffer.from([6, 1, 2, 3])),
  },
  {
    name: 'a truncated handshake',
    code: RtmpErrorCode.HANDSHAKE_TRUNCATED,
    raw: true,
    run: (c) => {
      c.write(Buffer.concat([Buffer.from([3]), Buffer.alloc(700)]));
      c.socket.end();
    },
  },
  {
    name: 'a slow handshake',
    code: RtmpErrorCode.HANDSHAKE_TIMEOUT,
    raw: true,
    run: (c) => c.write(Buffer.from([3, 0, 0])),
  },
  { name: 'an idle connection', code: RtmpErrorCode.IDLE_TIMEOUT, run: () => {} },
  {
    name: 'a connect sent one byte at a time',
    code: RtmpErrorCode.CONNECT_TIMEOUT,
    run: (c) => trickle(c, command(encodeAmf0('connect', 1, { app: 'live' }))),
  },
  {
    name: 'a connect, then a message trickled in instead of publish or play',
    code: RtmpErrorCode.PUBLISH_TIMEOUT,
    run: (c) => {
      c.write(command(encodeAmf0('connect', 1, { app: 'live' })));
      trickle(c, Buffer.concat([header(6, MessageType.VIDEO, 100, 1), Buffer.alloc(100)]));
    },
  },
  {
    name: 'chunk size 0',
    code: RtmpErrorCode.CHUNK_SIZE,
    run: (c) => c.write(Buffer.concat([header(2, MessageType.SET_CHUNK_SIZE, 4), Buffer.from('00000000', 'hex')])),
  },
  {
    name: 'chunk size over the limit (top bit set)',
    code: RtmpErrorCode.CHUNK_SIZE,
    run: (c) => c.write(Buffer.concat([header(2, MessageType.SET_CHUNK_SIZE, 4), Buffer.from('80000000', 'hex')])),
  },
  {
    name: 'a message longer than the limit',
    code: RtmpErrorCode.MESSAGE_TOO_LARGE,
    run: (c) => c.write(header(6, MessageType.VIDEO, 0xfffff0, 1)),
  },
  { name: 'an unknown message type', code: RtmpErrorCode.MESSAGE_TYPE, run: (c) => c.write(header(3, 0x7f, 4)) },
  {
    name: 'truncated AMF',
    code: RtmpErrorCode.AMF0_TRUNCATED,
    run: (c) => c.write(command(encodeAmf0('connect', 1, { app: 'live' }).subarray(0, 20))),
  },
  {
    name: 'garbage AMF',
    code: RtmpErrorCode.AMF0_TYPE,
    run: (c) => c.write(command(Buffer.from('4242424242424242', 'hex'))),
  },
  {
    name: 'AMF nested a thousand levels deep',
    code: RtmpErrorCode.AMF0_STRUCTURE,
    run: (c) =>
      c.send(3, {
        typeId: MessageType.COMMAND_AMF0,
        streamId: 0,
        timestampMs: 0,
        payload: Buffer.concat([encodeAmf0('connect', 1), Buffer.alloc(5000).fill(Buffer.from('0a00000001', 'hex'))]),
      }),
  },
  {
    name: 'a type-3 chunk with no prior header',
    code: RtmpErrorCode.NO_PRIOR_HEADER,
    run: (c) => c.write(Buffer.from([0xc5, 1, 2, 3])),
  },
  {
    name: 'a chunk-stream flood',
    code: RtmpErrorCode.CHUNK_STREAMS,
    run: (c) => {
      const parts: Buffer[] = [];
      for (let csid = 3; csid < 63; csid++) parts.push(header(csid, MessageType.AUDIO, 1, 1), Buffer.from([0xaf]));
      c.write(Buffer.concat(parts));
    },
  },
  {
    name: 'many half-sent messages (buffered bytes)',
    code: RtmpErrorCode.BUFFER_LIMIT,
    run: (c) => {
      const parts: Buffer[] = [];
      for (let csid = 3; csid < 10; csid++)
        parts.push(header(csid, MessageType.VIDEO, 2 * 1024 * 1024, 1), Buffer.alloc(128));
      c.write(Buffer.concat(parts));
    },
  },
  {
    name: 'publish before connect',
    code: RtmpErrorCode.COMMAND_STATE,
    run: (c) => c.command(1, 'publish', 5, null, 'u/s', 'live'),
  },
  {
    name: 'connect twice',
    code: RtmpErrorCode.COMMAND_STATE,
    run: (c) => {
      c.connectApp();
      c.connectApp();
    },
  },
  {
    name: 'publish on a stream that was never created',
    code: RtmpErrorCode.STREAM_ID,
    run: (c) => {
      c.connectApp();
      c.command(7, 'publish', 5, null, 'u/s', 'live');
    },
  },
  {
    name: 'an AMF3 command',
    code: RtmpErrorCode.AMF3_UNSUPPORTED,
    run: (c) =>
      c.write(Buffer.concat([header(3, MessageType.COMMAND_AMF3, 9), Buffer.from([0]), encodeAmf0('connect')])),
  },
  {
    name: 'a command without a name',
    code: RtmpErrorCode.COMMAND_INVALID,
    run: (c) => c.write(command(encodeAmf0(1, 2, null))),
  },
  {
    name: 'a window acknowledgement size of 0',
    code: RtmpErrorCode.CONTROL_MESSAGE,
    run: (c) => c.write(Buffer.concat([header(2, MessageType.WINDOW_ACK_SIZE, 4), Buffer.alloc(4)])),
  },
  {
    name: 'a close in the middle of a message',
    code: RtmpErrorCode.TRUNCATED,
    run: (c) => {
      c.write(Buffer.concat([header(6, MessageType.VIDEO, 1000, 1), Buffer.alloc(50)]));
      c.socket.end();
    },
  },
];

describe('malformed input ends only its own session', () => {
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

  it(`has at least 15 kinds of malformed input (${CASES.length})`, () => {
    expect(CASES.length).toBeGreaterThanOrEqual(15);
  });

  for (const testCase of CASES) {
    it(`closes the session on ${testCase.name} with ${testCase.code}`, async () => {
      const client = await RawClient.open(srv.port);
      try {
        if (!testCase.raw) await client.handshake();
        await testCase.run(client);
        await waitFor(
          () => srv.closed.some((c) => c.remote === client.remote),
          5000,
          `the server to close ${testCase.name}`,
        );
        const info = srv.closed.find((c) => c.remote === client.remote);
        expect(info?.code).toBe(testCase.code);
        expect(await client.closedBy(3000)).toBe(true);
        // The error code is in the log, on the session's line.
        expect(srv.logLines.some((l) => l.code === testCase.code && l.msg === 'session ended on error')).toBe(true);
      } finally {
        client.destroy();
      }
    });
  }

  it('the good publisher streamed on unharmed: every frame arrived', async () => {
    const result = await good.ffmpeg.done;
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    await waitFor(() => good.recorder.unpublishes === 1, 10_000, 'the good publish to end');
    expect(good.recorder.media('video').filter((f) => f.payload[1] !== 2).length).toBe(good.expectedVideo);
    expect(good.recorder.media('audio').length).toBe(good.expectedAudio);
    const goodClose = srv.closed.filter((c) => c.code === undefined);
    expect(goodClose.length).toBeGreaterThanOrEqual(1);
  });
});
