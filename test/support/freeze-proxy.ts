/**
 * A TCP proxy on 127.0.0.1 between the relay's upstream client and receivers, each new
 * connection to the next receiver port given, that can freeze a connection: it stops reading
 * what the relay sends and forwards nothing back (so no RTMP acknowledgement reaches the
 * relay), yet keeps the relay's socket open: no FIN, no RST. The receiver side is ended, so
 * that receiver finishes its file with what it got.
 */
import { connect, createServer, type Server, type Socket } from 'node:net';

interface Link {
  relay: Socket;
  receiver: Socket;
}

export class FreezeProxy {
  port = 0;
  private readonly server: Server;
  private readonly links: Link[] = [];

  /** `targets[n]` is the receiver port of the n-th connection (the last one for any after). */
  constructor(targets: number[]) {
    this.server = createServer((relay) => {
      const target = targets[Math.min(this.links.length, targets.length - 1)]!;
      const receiver = connect(target, '127.0.0.1');
      // Either side may go first at the end: a write after the other side closed is not a failure here.
      relay.on('error', () => receiver.destroy());
      receiver.on('error', () => relay.destroy());
      relay.on('close', () => receiver.destroy());
      receiver.on('close', () => relay.destroy());
      relay.pipe(receiver);
      receiver.pipe(relay);
      this.links.push({ relay, receiver });
    });
  }

  get connections(): number {
    return this.links.length;
  }

  async start(): Promise<this> {
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    this.port = (this.server.address() as { port: number }).port;
    return this;
  }

  /** Connection `n` (from 0) stops reading and answering; its receiver is told the stream ended. */
  freeze(n: number): void {
    const link = this.links[n];
    if (!link) throw new Error(`no connection ${n} to freeze`);
    link.relay.unpipe(link.receiver);
    link.receiver.unpipe(link.relay);
    link.relay.pause();
    link.receiver.removeAllListeners('close');
    link.receiver.on('error', () => {});
    link.receiver.end();
  }

  stop(): Promise<void> {
    for (const l of this.links) {
      l.relay.destroy();
      l.receiver.destroy();
    }
    return new Promise<void>((r) => this.server.close(() => r()));
  }
}
