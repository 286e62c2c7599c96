/** RtmpConnection, both ends over a real loopback socket pair: handshake, dispatch, faults. */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeAmf0 } from '../media/amf0-writer.js';
import { DEFAULT_CHUNK_PARSER_LIMITS } from './chunk-parser.js';
import { ChunkWriter } from './chunk-writer.js';
import { RtmpErrorCode } from './errors.js';
import { ChunkStreamId, MessageType } from './message-types.js';
import { RtmpConnection, type RtmpCommand, type RtmpConnectionHandler } from './rtmp-connection.js';

interface Seen {
  handshake: string[];
  commands: RtmpCommand[];
  media: Array<{ kind: string; streamId: number; timestampMs: number; bytes: string }>;
  faults: unknown[];
  peerEnds: Array<string | null>;
  closes: number;
}

function recorder(): { seen: Seen; handler: RtmpConnectionHandler } {
  const seen: Seen = { handshake: [], commands: [], media: [], faults: [], peerEnds: [], closes: 0 };
  const handler: RtmpConnectionHandler = {
    onHandshakeDone: (mode) => seen.handshake.push(mode),
    onCommand: (c) => seen.commands.push(c),
    onMedia: (kind, streamId, timestampMs, payload) =>
      seen.media.push({ kind, streamId, timestampMs, bytes: payload.toString('hex') }),
    onPeerEnd: (err) => seen.peerEnds.push(err?.code ?? null),
    onSocketError: () => {},
    onSocketClose: () => seen.closes++,
    onFault: (err) => seen.faults.push(err),
  };
  return { seen, handler };
}

const until = async (cond: () => boolean, timeoutMs = 3000): Promise<void> => {
  const start = Date.now();
  while (!cond()) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
};

let server: Server | null = null;
/** Every socket of a test, destroyed after it so a failing test cannot hold the server open. */
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = null;
});

/** A connected pair: our client connection, and the raw socket the server side got. */
async function pair(): Promise<{ client: RtmpConnection; clientSeen: Seen; serverSocket: Socket }> {
  let accepted: Socket | null = null;
  server = createServer((s) => {
    sockets.push(s);
    accepted = s;
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  const { seen, handler } = recorder();
  const socket = connect(port, '127.0.0.1');
  sockets.push(socket);
  const client = new RtmpConnection({
    socket,
    side: 'client',
    parserLimits: DEFAULT_CHUNK_PARSER_LIMITS,
    peerLabel: 'test server',
    handler,
  });
  socket.once('connect', () => client.start());
  await until(() => accepted !== null);
  return { client, clientSeen: seen, serverSocket: accepted! };
}

/** Wrap the accepted socket in a server-side connection. */
function serverSide(socket: Socket, handshakeTimeoutMs?: number): { conn: RtmpConnection; seen: Seen } {
  const { seen, handler } = recorder();
  const conn = new RtmpConnection({
    socket,
    side: 'server',
    parserLimits: DEFAULT_CHUNK_PARSER_LIMITS,
    peerLabel: 'peer',
    handler,
    ...(handshakeTimeoutMs !== undefined ? { handshakeTimeoutMs } : {}),
  });
  return { conn, seen };
}

describe('RtmpConnection', () => {
  it('completes the handshake both ways and delivers commands and media in order', async () => {
    const { client, clientSeen, serverSocket } = await pair();
    const { conn, seen } = serverSide(serverSocket);
    await until(() => seen.handshake.length === 1 && clientSeen.handshake.length === 1);
    expect(conn.handshakeDone).toBe(true);
    client.sendCommand(0, 'connect', 1, { app: 'live' });
    client.sendMedia('video', 1, 40, Buffer.from([0x17, 0x01, 0, 0, 0, 0xaa]));
    client.sendMedia('audio', 1, 41, Buffer.from([0xaf, 0x01, 0xbb]));
    client.sendMedia('data', 1, 0, encodeAmf0('onMetaData', { width: 1280 }));
    await until(() => seen.media.length === 3);
    expect(seen.commands.map((c) => [c.name, c.transactionId, c.streamId])).toEqual([['connect', 1, 0]]);
    expect(seen.media.map((m) => [m.kind, m.streamId, m.timestampMs])).toEqual([
      ['video', 1, 40],
      ['audio', 1, 41],
      ['data', 1, 0],
    ]);
    expect(seen.media[0]!.bytes).toBe('1701000000aa');
    // And back: the server's answer reaches the client.
    conn.sendCommand(0, '_result', 1, null, { code: 'NetConnection.Connect.Success' });
    await until(() => clientSeen.commands.length === 1);
    expect(clientSeen.commands[0]!.name).toBe('_result');
    expect(seen.faults).toEqual([]);
    client.shutdown('destroy');
  });

  it('sends every message of one event-loop turn in one write to the kernel, and in order', async () => {
    const { client, clientSeen, serverSocket } = await pair();
    const { seen } = serverSide(serverSocket);
    await until(() => seen.handshake.length === 1 && clientSeen.handshake.length === 1);
    // Count what the socket hands to its handle: one writev for the turn, no single writes.
    type Handle = (...args: unknown[]) => unknown;
    const socket = (client as unknown as { socket: Socket & { _writev: Handle; _write: Handle } }).socket;
    const calls = { writev: 0, write: 0, chunks: 0 };
    const writev = socket._writev.bind(socket);
    const write = socket._write.bind(socket);
    socket._writev = (...args: unknown[]) => {
      calls.writev++;
      calls.chunks += (args[0] as unknown[]).length;
      return writev(...args);
    };
    socket._write = (...args: unknown[]) => {
      calls.write++;
      return write(...args);
    };
    for (let i = 0; i < 10; i++) client.sendMedia('video', 1, 40 + i, Buffer.from([0x27, 0x01, 0, 0, 0, i]));
    expect(calls, 'nothing written before the turn ends').toEqual({ writev: 0, write: 0, chunks: 0 });
    await until(() => seen.media.length === 10);
    expect(calls).toEqual({ writev: 1, write: 0, chunks: 10 });
    expect(seen.media.map((m) => m.timestampMs)).toEqual(Array.from({ length: 10 }, (_, i) => 40 + i));
    client.shutdown('destroy');
  });

  it('a turn that writes past the high-water mark sends at once: corked bytes never read as backpressure', async () => {
    const { client, clientSeen, serverSocket } = await pair();
    const { seen } = serverSide(serverSocket);
    await until(() => seen.handshake.length === 1 && clientSeen.handshake.length === 1);
    const socket = (client as unknown as { socket: Socket }).socket;
    const frame = Buffer.alloc(4000, 0x27);
    let refused = 0;
    for (let i = 0; i < 20; i++) if (!client.sendMedia('video', 1, 40 + i, frame)) refused++;
    // 80 kB in one turn against a 16 kB high-water mark, to a peer that reads.
    expect(socket.writableLength).toBeLessThanOrEqual(socket.writableHighWaterMark);
    expect(refused).toBe(0);
    await until(() => seen.media.length === 20);
    client.shutdown('destroy');
  });

  it('splits an aggregate into its audio/video/data sub-messages with absolute timestamps', async () => {
    const { client, serverSocket } = await pair();
    const { seen } = serverSide(serverSocket);
    await until(() => seen.handshake.length === 1);
    const sub = (type: number, ts: number, body: Buffer): Buffer => {
      const h = Buffer.alloc(11);
      h[0] = type;
      h.writeUIntBE(body.length, 1, 3);
      h.writeUIntBE(ts, 4, 3);
      const back = Buffer.alloc(4);
      back.writeUInt32BE(11 + body.length);
      return Buffer.concat([h, body, back]);
    };
    const payload = Buffer.concat([
      sub(MessageType.VIDEO, 1000, Buffer.from([0x27, 1, 0, 0, 0])),
      sub(MessageType.USER_CONTROL, 1010, Buffer.from([0, 0])),
      sub(MessageType.AUDIO, 1023, Buffer.from([0xaf, 1])),
    ]);
    client.send(ChunkStreamId.VIDEO, { typeId: MessageType.AGGREGATE, streamId: 1, timestampMs: 5000, payload });
    await until(() => seen.media.length === 2);
    expect(seen.media.map((m) => [m.kind, m.timestampMs])).toEqual([
      ['video', 5000],
      ['audio', 5023],
    ]);
    client.shutdown('destroy');
  });

  it('reports an AMF3 command as a fault with its coded error and then ignores the input', async () => {
    const { client, serverSocket } = await pair();
    const { seen } = serverSide(serverSocket);
    await until(() => seen.handshake.length === 1);
    client.send(ChunkStreamId.COMMAND, {
      typeId: MessageType.COMMAND_AMF3,
      streamId: 0,
      timestampMs: 0,
      payload: Buffer.from([0]),
    });
    await until(() => seen.faults.length === 1);
    expect((seen.faults[0] as { code: string }).code).toBe(RtmpErrorCode.AMF3_UNSUPPORTED);
    client.shutdown('destroy');
  });

  it('reports a command without a name as COMMAND_INVALID', async () => {
    const { client, serverSocket } = await pair();
    const { seen } = serverSide(serverSocket);
    await until(() => seen.handshake.length === 1);
    client.send(ChunkStreamId.COMMAND, {
      typeId: MessageType.COMMAND_AMF0,
      streamId: 0,
      timestampMs: 0,
      payload: encodeAmf0(42),
    });
    await until(() => seen.faults.length === 1);
    expect((seen.faults[0] as { code: string }).code).toBe(RtmpErrorCode.COMMAND_INVALID);
    expect(seen.commands).toEqual([]);
    client.shutdown('destroy');
  });

  it('ends the handshake with HANDSHAKE_TIMEOUT when the peer never completes it', async () => {
    let accepted: Socket | null = null;
    server = createServer((s) => {
      sockets.push(s);
      accepted = s;
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
    const raw = connect((server.address() as { port: number }).port, '127.0.0.1');
    sockets.push(raw);
    await until(() => accepted !== null);
    const { seen } = serverSide(accepted!, 100);
    raw.write(Buffer.from([3, 0, 0])); // C0 and the start of C1, never the rest
    await until(() => seen.faults.length === 1);
    expect((seen.faults[0] as { code: string }).code).toBe(RtmpErrorCode.HANDSHAKE_TIMEOUT);
    raw.destroy();
  });

  it('says TRUNCATED when the peer closes mid-message, HANDSHAKE_TRUNCATED mid-handshake, null between messages', async () => {
    const mid = await pair();
    const a = serverSide(mid.serverSocket);
    await until(() => a.seen.handshake.length === 1);
    const whole = new ChunkWriter().write(ChunkStreamId.VIDEO, {
      typeId: MessageType.VIDEO,
      streamId: 1,
      timestampMs: 0,
      payload: Buffer.alloc(500),
    });
    // Reach past the connection to the raw socket: write one chunk's worth, then end.
    const clientSocket = (mid.client as unknown as { socket: Socket }).socket;
    clientSocket.end(whole.subarray(0, 100));
    await until(() => a.seen.peerEnds.length === 1);
    expect(a.seen.peerEnds).toEqual([RtmpErrorCode.TRUNCATED]);

    const clean = await pair();
    const b = serverSide(clean.serverSocket);
    await until(() => b.seen.handshake.length === 1);
    clean.client.sendCommand(0, 'ping', 0);
    await until(() => b.seen.commands.length === 1);
    clean.client.endOutput();
    await until(() => b.seen.peerEnds.length === 1);
    expect(b.seen.peerEnds).toEqual([null]);

    let accepted: Socket | null = null;
    server!.removeAllListeners('connection');
    server!.on('connection', (s: Socket) => {
      sockets.push(s);
      accepted = s;
    });
    const raw = connect((server!.address() as { port: number }).port, '127.0.0.1');
    sockets.push(raw);
    await until(() => accepted !== null);
    const c = serverSide(accepted!);
    raw.end(Buffer.from([3, 1, 2, 3]));
    await until(() => c.seen.peerEnds.length === 1);
    expect(c.seen.peerEnds).toEqual([RtmpErrorCode.HANDSHAKE_TRUNCATED]);
  });
});
