/**
 * Test helper: a TCP proxy that records the RTMP commands and messages a client sends.
 */
import { createServer, connect as netConnect, type AddressInfo, type Server, type Socket } from 'node:net';
import { decodeAmf0 } from '../../src/media/amf0-reader.js';
import { ChunkParser } from '../../src/rtmp/chunk-parser.js';
import { HANDSHAKE_SIZE } from '../../src/rtmp/handshake.js';
import { MessageType, type RtmpMessage } from '../../src/rtmp/message-types.js';
import { freePort } from './free-port.js';
import { startReceiver, TEST_STREAM_KEY, type Receiver } from './processes.js';

export async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

export async function closeServer(server: Server, sockets: Set<Socket>): Promise<void> {
  for (const s of sockets) s.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
}

/**
 * A TCP proxy in front of a server that parses what the client sends after the handshake
 * (C0+C1+C2 = 1 + 2 x 1536 bytes), so a test can see the client's commands.
 */
export class TapProxy {
  readonly commands: string[] = [];
  readonly messages: RtmpMessage[] = [];
  /** When each of `messages` had come through whole (epoch ms), same order. */
  readonly arrivalsMs: number[] = [];
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(private readonly targetPort: number) {
    this.server = createServer((client) => {
      const upstream = netConnect({ host: '127.0.0.1', port: this.targetPort });
      this.sockets.add(client).add(upstream);
      let skip = 1 + 2 * HANDSHAKE_SIZE;
      const parser = new ChunkParser({
        onMessage: (m) => {
          this.messages.push(m);
          this.arrivalsMs.push(Date.now());
          if (m.typeId === MessageType.COMMAND_AMF0) this.commands.push(String(decodeAmf0(m.payload)[0]));
        },
      });
      client.on('data', (b: Buffer) => {
        const rest = skip > 0 ? b.subarray(Math.min(skip, b.length)) : b;
        skip = Math.max(0, skip - b.length);
        if (rest.length > 0) parser.push(rest);
      });
      client.pipe(upstream);
      upstream.pipe(client);
      client.on('error', () => upstream.destroy());
      upstream.on('error', () => client.destroy());
    });
  }

  async start(): Promise<this> {
    this.port = await listen(this.server);
    return this;
  }

  stop(): Promise<void> {
    return closeServer(this.server, this.sockets);
  }
}

/**
 * An ffmpeg receiver writing `out`, behind a tap that records what rinse sends it: `target`
 * is what rinse's --target points at.
 */
export async function startTappedReceiver(out: string): Promise<{ receiver: Receiver; tap: TapProxy; target: string }> {
  const receiver = startReceiver(out, await freePort());
  const tap = await new TapProxy(receiver.port).start();
  return { receiver, tap, target: `rtmp://127.0.0.1:${tap.port}/live/${TEST_STREAM_KEY}` };
}
