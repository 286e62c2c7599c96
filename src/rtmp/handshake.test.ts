/**
 * Tests for the RTMP 1.0 §5.2 handshake (simple and digest), both sides.
 * Digests are recomputed here with createHmac, independently of the module's helpers.
 */
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { RtmpError, RtmpErrorCode } from './errors.js';
import { ClientHandshake, HANDSHAKE_SIZE, RTMP_VERSION, ServerHandshake, type HandshakeMode } from './handshake.js';

const KEY_TAIL = Buffer.from('F0EEC24A8068BEE82E00D0D1029E7E576EEC5D2D29806FAB93B8E636CFEB31AE', 'hex');
const PLAYER_KEY = Buffer.concat([Buffer.from('Genuine Adobe Flash Player 001'), KEY_TAIL]);
const SERVER_KEY = Buffer.concat([Buffer.from('Genuine Adobe Flash Media Server 001'), KEY_TAIL]);

/** xorshift32: a tiny deterministic PRNG for random bytes and random splits. */
function xorshift(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

function seededRandom(seed: number): (n: number) => Buffer {
  const next = xorshift(seed);
  return (n) => {
    const out = Buffer.alloc(n);
    for (let i = 0; i < n; i++) out[i] = next() & 0xff;
    return out;
  };
}

function hmac(key: Buffer, data: Buffer): Buffer {
  return createHmac('sha256', key).update(data).digest();
}

function digestPosition(packet: Buffer, base: number): number {
  let sum = 0;
  for (let i = 0; i < 4; i++) sum += packet.readUInt8(base + i);
  return (sum % 728) + base + 4;
}

/** HMAC over the packet with the 32 bytes at `pos` removed. */
function digestAt(packet: Buffer, pos: number, key: Buffer): Buffer {
  return hmac(key, Buffer.concat([packet.subarray(0, pos), packet.subarray(pos + 32)]));
}

/** C0+C1 as a test-side "Flash Player" would build it, signed under the given scheme. */
function digestC0C1(base: 8 | 772, seed: number): { bytes: Buffer; digest: Buffer } {
  const c1 = seededRandom(seed)(HANDSHAKE_SIZE);
  c1.writeUInt32BE(1234, 0);
  Buffer.from([0x80, 0x00, 0x07, 0x02]).copy(c1, 4);
  const pos = digestPosition(c1, base);
  const digest = digestAt(c1, pos, PLAYER_KEY.subarray(0, 30));
  digest.copy(c1, pos);
  return { bytes: Buffer.concat([Buffer.from([3]), c1]), digest };
}

function simpleC0C1(seed: number): Buffer {
  const c1 = seededRandom(seed)(HANDSHAKE_SIZE);
  c1.writeUInt32BE(0, 0);
  c1.writeUInt32BE(0, 4);
  return Buffer.concat([Buffer.from([3]), c1]);
}

function newServer(seed = 7): { server: ServerHandshake; sent: Buffer[] } {
  const sent: Buffer[] = [];
  const server = new ServerHandshake({ send: (b) => sent.push(b), random: seededRandom(seed), nowMs: () => 5000 });
  return { server, sent };
}

function newClient(mode: HandshakeMode, seed = 11): { client: ClientHandshake; sent: Buffer[] } {
  const sent: Buffer[] = [];
  const client = new ClientHandshake({ send: (b) => sent.push(b), random: seededRandom(seed), nowMs: () => 77, mode });
  return { client, sent };
}

const CHUNK_DATA = Buffer.from(Array.from({ length: 50 }, (_, i) => (i * 37 + 5) & 0xff));

function expectRtmpError(fn: () => unknown, code: string): void {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(RtmpError);
  expect((caught as RtmpError).code).toBe(code);
}

describe('ServerHandshake, simple C1', () => {
  it('replies S0+S1+S2 in one send with S2 an exact copy of C1, and returns the leftover after C2', () => {
    const { server, sent } = newServer();
    const c0c1 = simpleC0C1(1);
    expect(server.push(c0c1)).toBeUndefined();
    expect(sent).toHaveLength(1);
    const reply = sent[0] as Buffer;
    expect(reply.length).toBe(1 + HANDSHAKE_SIZE + HANDSHAKE_SIZE);
    expect(reply[0]).toBe(RTMP_VERSION);
    const s1 = reply.subarray(1, 1 + HANDSHAKE_SIZE);
    expect(s1.readUInt32BE(0)).toBe(5000);
    expect(s1.readUInt32BE(4)).toBe(0);
    expect(reply.subarray(1 + HANDSHAKE_SIZE).equals(c0c1.subarray(1))).toBe(true);
    expect(server.mode).toBe('simple');
    expect(server.done).toBe(false);

    const c2 = Buffer.from(s1);
    const leftover = server.push(Buffer.concat([c2, CHUNK_DATA]));
    expect(leftover?.equals(CHUNK_DATA)).toBe(true);
    expect(server.done).toBe(true);
    expect(server.bytesReceived).toBe(1 + 2 * HANDSHAKE_SIZE);
    expect(sent).toHaveLength(1);
  });

  it('falls back to simple when C1 has version bytes but a bad digest', () => {
    const { server, sent } = newServer();
    const { bytes } = digestC0C1(8, 2);
    bytes[100] = (bytes[100] as number) ^ 0xff; // corrupt: neither scheme validates
    server.push(bytes);
    expect(server.mode).toBe('simple');
    expect((sent[0] as Buffer).subarray(1 + HANDSHAKE_SIZE).equals(bytes.subarray(1))).toBe(true);
  });

  it('accepts a junk C2 and returns an empty leftover when nothing follows', () => {
    const { server } = newServer();
    server.push(simpleC0C1(3));
    const leftover = server.push(Buffer.alloc(HANDSHAKE_SIZE, 0xab));
    expect(leftover?.length).toBe(0);
    expect(server.done).toBe(true);
    expect(() => server.push(Buffer.alloc(1))).toThrow();
  });
});

describe('ServerHandshake, digest C1', () => {
  it.each([8, 772] as const)('signs S1 and S2 for a C1 signed with the %i scheme', (base) => {
    const { server, sent } = newServer();
    const { bytes, digest: c1Digest } = digestC0C1(base, 40 + base);
    server.push(bytes);
    expect(server.mode).toBe('digest');
    expect(sent).toHaveLength(1);
    const reply = sent[0] as Buffer;
    expect(reply.length).toBe(1 + 2 * HANDSHAKE_SIZE);
    expect(reply[0]).toBe(3);

    const s1 = reply.subarray(1, 1 + HANDSHAKE_SIZE);
    expect(s1.readUInt32BE(4)).not.toBe(0);
    const pos = digestPosition(s1, base);
    const expectedS1 = digestAt(s1, pos, SERVER_KEY.subarray(0, 36));
    expect(s1.subarray(pos, pos + 32).equals(expectedS1)).toBe(true);

    const s2 = reply.subarray(1 + HANDSHAKE_SIZE);
    const s2Key = hmac(SERVER_KEY, c1Digest);
    expect(s2.subarray(1504).equals(hmac(s2Key, s2.subarray(0, 1504)))).toBe(true);

    expect(server.push(Buffer.concat([Buffer.alloc(HANDSHAKE_SIZE), CHUNK_DATA]))?.equals(CHUNK_DATA)).toBe(true);
    expect(server.done).toBe(true);
  });
});

describe('version byte', () => {
  it.each([6, 0, 0x47])('server rejects C0 = %i after one byte', (version) => {
    const { server, sent } = newServer();
    expectRtmpError(() => server.push(Buffer.from([version])), RtmpErrorCode.HANDSHAKE_VERSION);
    expect(RtmpErrorCode.HANDSHAKE_VERSION).toBe('ERR_RTMP_HANDSHAKE_VERSION');
    expect(sent).toHaveLength(0);
  });

  it('server accepts C0 = 3 alone and waits', () => {
    const { server } = newServer();
    expect(server.push(Buffer.from([3]))).toBeUndefined();
    expect(server.bytesReceived).toBe(1);
  });

  it('client rejects S0 = 6 after one byte', () => {
    const { client } = newClient('digest');
    client.start();
    expectRtmpError(() => client.push(Buffer.from([6])), RtmpErrorCode.HANDSHAKE_VERSION);
  });
});

/** Runs a client against a server over in-memory "sockets"; returns both. */
function backToBack(mode: HandshakeMode): { client: ClientHandshake; server: ServerHandshake; c2: Buffer; s1: Buffer } {
  const { client, sent: fromClient } = newClient(mode);
  const { server, sent: fromServer } = newServer();
  client.start();
  expect(fromClient).toHaveLength(1);
  expect(server.push(fromClient[0] as Buffer)).toBeUndefined();
  expect(fromServer).toHaveLength(1);
  const clientLeftover = client.push(fromServer[0] as Buffer);
  expect(clientLeftover?.length).toBe(0);
  expect(fromClient).toHaveLength(2);
  const serverLeftover = server.push(fromClient[1] as Buffer);
  expect(serverLeftover?.length).toBe(0);
  return {
    client,
    server,
    c2: fromClient[1] as Buffer,
    s1: (fromServer[0] as Buffer).subarray(1, 1 + HANDSHAKE_SIZE),
  };
}

describe('ClientHandshake <-> ServerHandshake', () => {
  it.each(['simple', 'digest'] as const)('completes in %s mode and both agree on the mode', (mode) => {
    const { client, server, c2, s1 } = backToBack(mode);
    expect(client.done).toBe(true);
    expect(server.done).toBe(true);
    expect(client.mode).toBe(mode);
    expect(server.mode).toBe(mode);
    expect(c2.length).toBe(HANDSHAKE_SIZE);
    if (mode === 'simple') {
      expect(c2.equals(s1)).toBe(true);
    } else {
      const pos = digestPosition(s1, 8);
      const s1Digest = s1.subarray(pos, pos + 32);
      expect(c2.subarray(1504).equals(hmac(hmac(PLAYER_KEY, s1Digest), c2.subarray(0, 1504)))).toBe(true);
    }
  });

  it('client in digest mode signs C1 with the 8-based scheme', () => {
    const { client, sent } = newClient('digest');
    client.start();
    const c0c1 = sent[0] as Buffer;
    expect(c0c1.length).toBe(1 + HANDSHAKE_SIZE);
    expect(c0c1[0]).toBe(3);
    const c1 = c0c1.subarray(1);
    expect([...c1.subarray(4, 8)]).toEqual([0x80, 0x00, 0x07, 0x02]);
    const pos = digestPosition(c1, 8);
    expect(c1.subarray(pos, pos + 32).equals(digestAt(c1, pos, PLAYER_KEY.subarray(0, 30)))).toBe(true);
  });

  it('client returns the bytes that follow S2', () => {
    const { client, sent: fromClient } = newClient('digest');
    const { server, sent: fromServer } = newServer();
    client.start();
    server.push(fromClient[0] as Buffer);
    const leftover = client.push(Buffer.concat([fromServer[0] as Buffer, CHUNK_DATA]));
    expect(leftover?.equals(CHUNK_DATA)).toBe(true);
    expect(client.mode).toBe('digest');
  });

  it('client throws HANDSHAKE_INVALID on a corrupted S2 digest', () => {
    const { client, sent: fromClient } = newClient('digest');
    const { server, sent: fromServer } = newServer();
    client.start();
    server.push(fromClient[0] as Buffer);
    const reply = Buffer.from(fromServer[0] as Buffer);
    const last = reply.length - 1;
    reply[last] = (reply[last] as number) ^ 0x01;
    expectRtmpError(() => client.push(reply), RtmpErrorCode.HANDSHAKE_INVALID);
    expect(fromClient).toHaveLength(1); // no C2 was sent
  });
});

/** Splits `data` into pieces of the given sizes (the last piece takes the rest). */
function splitBy(data: Buffer, nextSize: () => number): Buffer[] {
  const pieces: Buffer[] = [];
  for (let at = 0; at < data.length;) {
    const size = Math.max(1, Math.min(nextSize(), data.length - at));
    pieces.push(data.subarray(at, at + size));
    at += size;
  }
  return pieces;
}

/** Feeds pieces until done; returns the leftover plus every piece after it (the chunk stream's bytes). */
function feed(target: { push(b: Buffer): Buffer | undefined; readonly done: boolean }, pieces: Buffer[]): Buffer {
  const rest: Buffer[] = [];
  for (const piece of pieces) {
    if (target.done) {
      rest.push(piece);
      continue;
    }
    const leftover = target.push(piece);
    if (leftover) rest.push(leftover);
  }
  expect(target.done).toBe(true);
  return Buffer.concat(rest);
}

describe('any split of the input', () => {
  const randomSizes = (seed: number): (() => number) => {
    const next = xorshift(seed);
    return () => 1 + (next() % 700);
  };
  const splits: Array<[string, (data: Buffer) => Buffer[]]> = [
    ['whole', (d) => [d]],
    ['1-byte pieces', (d) => splitBy(d, () => 1)],
    ['1460-byte pieces', (d) => splitBy(d, () => 1460)],
    ['seeded random pieces (seed 1)', (d) => splitBy(d, randomSizes(1))],
    ['seeded random pieces (seed 99)', (d) => splitBy(d, randomSizes(99))],
    ['seeded random pieces (seed 0xbeef)', (d) => splitBy(d, randomSizes(0xbeef))],
  ];

  it.each(['simple', 'digest'] as const)('server gives the same reply and leftover for every split (%s C1)', (mode) => {
    const c0c1 = mode === 'digest' ? digestC0C1(772, 5).bytes : simpleC0C1(5);
    const input = Buffer.concat([c0c1, seededRandom(6)(HANDSHAKE_SIZE), CHUNK_DATA]);
    const baseline = newServer();
    expect(feed(baseline.server, [input]).equals(CHUNK_DATA)).toBe(true);
    for (const [name, split] of splits) {
      const { server, sent } = newServer();
      const leftover = feed(server, split(input));
      expect(leftover.equals(CHUNK_DATA), name).toBe(true);
      expect(server.mode, name).toBe(mode);
      expect(server.bytesReceived, name).toBe(1 + 2 * HANDSHAKE_SIZE);
      expect(sent, name).toHaveLength(1);
      expect((sent[0] as Buffer).equals(baseline.sent[0] as Buffer), name).toBe(true);
    }
  });

  it('client gives the same C2 and leftover for every split', () => {
    const { client: c0, sent: firstSent } = newClient('digest');
    c0.start();
    const { server, sent: serverSent } = newServer();
    server.push(firstSent[0] as Buffer);
    const input = Buffer.concat([serverSent[0] as Buffer, CHUNK_DATA]);
    expect(feed(c0, [input]).equals(CHUNK_DATA)).toBe(true);
    for (const [name, split] of splits) {
      const { client, sent } = newClient('digest');
      client.start();
      const leftover = feed(client, split(input));
      expect(leftover.equals(CHUNK_DATA), name).toBe(true);
      expect(client.mode, name).toBe('digest');
      expect(sent, name).toHaveLength(2);
      expect((sent[1] as Buffer).equals(firstSent[1] as Buffer), name).toBe(true);
    }
  });
});
