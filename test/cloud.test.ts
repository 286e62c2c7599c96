/**
 * `rinse/cloud`: rendezvous hashing over 10,000 users (moves on scale-out and removal, load
 * balance), RELAY_URLS parsing, health filtering against stand-in relays, and the cf-url
 * handler mounted on Node's http server.
 */
import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { RelayService, createCfUrlHandler, parseRelayUrls, pickRelay } from '../src/cloud/index.js';
import { verifyPublishToken } from '../src/media/publish-token.js';

const USERS = Array.from({ length: 10_000 }, (_, i) => `user-${i}@example.com`);
const relays = (n: number): Array<{ id: string }> =>
  Array.from({ length: n }, (_, i) => ({ id: `relay-${i}.example.com:1935` }));

describe('rendezvous hashing over 10,000 users', () => {
  it('going from 4 to 5 relays moves 15-25% of users, all of them to the new relay', () => {
    const four = relays(4);
    const five = relays(5);
    let moved = 0;
    for (const u of USERS) {
      const a = pickRelay(u, four)!.id;
      const b = pickRelay(u, five)!.id;
      if (a !== b) {
        moved++;
        expect(b).toBe(five[4]!.id);
      }
    }
    const share = moved / USERS.length;
    expect(share).toBeGreaterThanOrEqual(0.15);
    expect(share).toBeLessThanOrEqual(0.25);
  });

  it("removing one relay moves only that relay's users", () => {
    const five = relays(5);
    const four = five.filter((_, i) => i !== 2);
    for (const u of USERS) {
      const before = pickRelay(u, five)!.id;
      const after = pickRelay(u, four)!.id;
      if (before !== five[2]!.id) expect(after).toBe(before);
    }
  });

  it('keeps the load within 10% of even', () => {
    for (const n of [3, 4, 5, 8]) {
      const counts = new Map<string, number>();
      for (const u of USERS) {
        const id = pickRelay(u, relays(n))!.id;
        counts.set(id, (counts.get(id) ?? 0) + 1);
      }
      const even = USERS.length / n;
      for (const c of counts.values()) expect(Math.abs(c - even) / even).toBeLessThanOrEqual(0.1);
    }
  });
});

describe('RelayService', () => {
  let servers: Server[] = [];
  afterEach(async () => {
    await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
    servers = [];
  });

  it('parses RELAY_URLS in the seed format and builds the publish URL', () => {
    expect(parseRelayUrls('relay-a.example.com:1935, rtmp://relay-b.example.com').map((r) => r.id)).toEqual([
      'relay-a.example.com:1935',
      'relay-b.example.com:1935',
    ]);
    expect(() => parseRelayUrls('http://x')).toThrow(/rtmp/);
    expect(() => parseRelayUrls('a:1935,a:1935')).toThrow(/twice/);
    const service = new RelayService({ relayUrls: 'relay-a.example.com:1935,relay-b.example.com:1936' });
    const url = service.buildRelayUrl('user 1', 'stream/1');
    expect(url).toMatch(/^rtmp:\/\/relay-[ab]\.example\.com:193[56]\/live\/user%201\/stream%2F1$/);
    expect(service.buildRelayUrl('user 1', 'x')).toBe(url.replace('stream%2F1', 'x'));
  });

  it('signs the publish URL with the first publish secret; the token lives 24 h by default', () => {
    const nowMs = 1_780_000_000_000;
    const service = new RelayService({
      relayUrls: 'relay-a.example.com',
      publishSecret: 'new,old',
      nowMs: () => nowMs,
    });
    const url = new URL(service.buildRelayUrl('u1', 's1'));
    expect(url.href.split('?')[0]).toBe('rtmp://relay-a.example.com:1935/live/u1/s1');
    const token = url.searchParams.get('token');
    expect(verifyPublishToken(['new'], 'live/u1/s1', token, nowMs)).toEqual({
      ok: true,
      expiresAtMs: nowMs + 24 * 3_600_000,
    });
    expect(verifyPublishToken(['old'], 'live/u1/s1', token, nowMs).ok).toBe(false);
    const short = new RelayService({ relayUrls: 'relay-a.example.com', publishSecret: 'new', tokenLifetimeMs: 60_000 });
    const shortToken = new URL(short.buildRelayUrl('u1', 's1')).searchParams.get('token');
    expect(verifyPublishToken(['new'], 'live/u1/s1', shortToken, Date.now() + 61_000)).toEqual({
      ok: false,
      reason: 'expired',
    });
    const unsigned = new RelayService({ relayUrls: 'relay-a.example.com', publishSecret: '' });
    expect(unsigned.buildRelayUrl('u1', 's1')).toBe('rtmp://relay-a.example.com:1935/live/u1/s1');
  });

  it('skips relays whose /readyz fails, and caches the answers', async () => {
    let calls = 0;
    const start = async (status: number): Promise<number> => {
      const s = createServer((req, res) => {
        calls++;
        res.writeHead(req.url === '/readyz' ? status : 404).end();
      });
      servers.push(s);
      await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
      return (s.address() as { port: number }).port;
    };
    const upPort = await start(200);
    const downPort = await start(503);
    // Both relays on 127.0.0.1, told apart by their RTMP port; the API port differs per relay here.
    const service = new RelayService({
      relayUrls: `127.0.0.1:1935,127.0.0.1:1936`,
      healthCheck: true,
      healthCacheMs: 60_000,
    });
    const [up, down] = service.relays as unknown as [{ apiBaseUrl: string }, { apiBaseUrl: string }];
    Object.assign(up, { apiBaseUrl: `http://127.0.0.1:${upPort}` });
    Object.assign(down, { apiBaseUrl: `http://127.0.0.1:${downPort}` });
    for (const u of USERS.slice(0, 50)) expect((await service.healthyRelayFor(u)).rtmpPort).toBe(1935);
    expect(calls).toBe(2);
  });
});

describe('createCfUrlHandler on a Node http server', () => {
  it('answers 401 without the token, 404 for an unknown stream, 200 with the URL', async () => {
    const handler = createCfUrlHandler(
      (userId, streamId) => (userId === 'u1' && streamId === 's1' ? 'rtmps://live.example.com:443/live/key-1' : null),
      { token: 'tok' },
    );
    const server = createServer(handler);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    try {
      const get = (path: string, token?: string): Promise<Response> =>
        fetch(`${base}${path}`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
      expect((await get('/api/relay/cf-url/u1/s1')).status).toBe(401);
      expect((await get('/api/relay/cf-url/u1/s1', 'wrong')).status).toBe(401);
      expect((await get('/api/relay/cf-url/u1/nope', 'tok')).status).toBe(404);
      const ok = await get('/api/relay/cf-url/u1/s1', 'tok');
      expect(ok.status).toBe(200);
      expect(await ok.json()).toEqual({ url: 'rtmps://live.example.com:443/live/key-1' });
      expect((await get('/other', 'tok')).status).toBe(404);
      expect(
        (await fetch(`${base}/api/relay/cf-url/u1/s1`, { method: 'POST', headers: { authorization: 'Bearer tok' } }))
          .status,
      ).toBe(405);
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});
