/**
 * `rinse/cloud` as a drop-in for the seed's RtmpRelayService: the seed's own usage (copied
 * below as ManagedStreamingExtensionLike, with only its import swapped) compiles and runs
 * against RelayService with a real pino logger; it gets the same relay as `relayFor`
 * (rendezvous hashing), reads RTMP_RELAY_URLS, and logs the endpoints without any token.
 */
import { pino, type Logger } from 'pino';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { verifyPublishToken } from '../src/media/publish-token.js';
// The seed's one-line change: this import instead of its own './RtmpRelayService'.
import { RelayService, RtmpRelayService, type RtmpRelayEndpoint } from '../src/cloud/index.js';

/** The seed's usage, as in its ManagedStreamingExtension (the parts that touch the relay service). */
class ManagedStreamingExtensionLike {
  private logger: Logger;
  private rtmpRelayService: RtmpRelayService;

  constructor(logger: Logger) {
    this.logger = logger.child({ service: 'ManagedStreamingExtension' });
    this.rtmpRelayService = new RtmpRelayService(logger);
  }

  startManagedStream(userId: string, managedStream: { streamId: string }): { rtmpUrl: string; relayId: string } {
    const rtmpUrl = this.rtmpRelayService.buildRelayUrl(userId, managedStream.streamId);
    const relay = this.rtmpRelayService.getRelayForUser(userId);
    this.logger.debug({ userId, relayId: relay.relayId }, 'managed stream relay');
    return { rtmpUrl, relayId: relay.relayId };
  }

  relayInfo(userId: string): Pick<RtmpRelayEndpoint, 'relayId' | 'rtmpUrl' | 'hlsBaseUrl' | 'hostname' | 'port'> {
    const relay: RtmpRelayEndpoint = this.rtmpRelayService.getRelayForUser(userId);
    return {
      relayId: relay.relayId,
      rtmpUrl: relay.rtmpUrl,
      hlsBaseUrl: relay.hlsBaseUrl,
      hostname: relay.hostname,
      port: relay.port,
    };
  }

  relays(): RtmpRelayEndpoint[] {
    return this.rtmpRelayService.getRelays();
  }
}

const THREE = 'relay-a.example.com:1935,relay-b.example.com:1936,rtmp://relay-c.example.com';
const SECRET = 'seed-test-publish-secret-1';
const USERS = Array.from({ length: 1000 }, (_, i) => `user-${i}@example.com`);

/** A real pino logger whose lines land in `lines` (pino writes to a plain stream synchronously). */
function capturingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const logger = pino({ level: 'debug' }, { write: (line: string) => void lines.push(line) });
  return { logger, lines };
}

const parsed = (lines: string[]): Array<Record<string, unknown>> =>
  lines.map((l) => JSON.parse(l) as Record<string, unknown>);

beforeEach(() => {
  vi.stubEnv('RELAY_URLS', undefined);
  vi.stubEnv('RTMP_RELAY_URLS', undefined);
  vi.stubEnv('RELAY_PUBLISH_SECRET', undefined);
});
afterEach(() => {
  vi.unstubAllEnvs();
});

describe("the seed's RtmpRelayService usage against rinse/cloud", () => {
  it('is the same class under both names', () => {
    expect(RtmpRelayService).toBe(RelayService);
  });

  it('with RTMP_RELAY_URLS set: for 1000 users the relay of relayFor, and publish URLs under its rtmpUrl', () => {
    vi.stubEnv('RTMP_RELAY_URLS', THREE);
    vi.stubEnv('RELAY_PUBLISH_SECRET', SECRET);
    const { logger, lines } = capturingLogger();
    const seed = new ManagedStreamingExtensionLike(logger);
    const reference = new RelayService({ relayUrls: THREE });
    const counts = new Map<string, number>();
    const tokens: string[] = [];
    for (const [i, userId] of USERS.entries()) {
      const expected = reference.relayFor(userId);
      const info = seed.relayInfo(userId);
      expect(info).toEqual({
        relayId: `${expected.host}:${expected.rtmpPort}`,
        rtmpUrl: `rtmp://${expected.host}:${expected.rtmpPort}`,
        hlsBaseUrl: undefined,
        hostname: expected.host,
        port: expected.rtmpPort,
      });
      const { rtmpUrl, relayId } = seed.startManagedStream(userId, { streamId: `stream-${i}` });
      expect(relayId).toBe(info.relayId);
      expect(rtmpUrl.startsWith(`${info.rtmpUrl}/live/`)).toBe(true);
      const url = new URL(rtmpUrl);
      const path = url.pathname.slice(1);
      // Email ids as they are: the path the relay resolves and checks the token against.
      expect(path).toBe(`live/${userId}/stream-${i}`);
      const token = url.searchParams.get('token');
      expect(verifyPublishToken([SECRET], path, token, Date.now()).ok).toBe(true);
      tokens.push(token as string);
      counts.set(info.relayId, (counts.get(info.relayId) ?? 0) + 1);
    }
    expect([...counts.keys()].sort()).toEqual([
      'relay-a.example.com:1935',
      'relay-b.example.com:1936',
      'relay-c.example.com:1935',
    ]);
    expect(seed.relays().map((r) => r.rtmpUrl)).toEqual([
      'rtmp://relay-a.example.com:1935',
      'rtmp://relay-b.example.com:1936',
      'rtmp://relay-c.example.com:1935',
    ]);

    const endpoints = parsed(lines).filter((l) => l.msg === 'relay endpoints');
    expect(endpoints).toHaveLength(1);
    expect(endpoints[0]).toMatchObject({
      level: 30,
      service: 'RelayService',
      count: 3,
      source: 'RTMP_RELAY_URLS',
      relays: [
        { relayId: 'relay-a.example.com:1935', hostname: 'relay-a.example.com', port: 1935 },
        { relayId: 'relay-b.example.com:1936', hostname: 'relay-b.example.com', port: 1936 },
        { relayId: 'relay-c.example.com:1935', hostname: 'relay-c.example.com', port: 1935 },
      ],
    });
    expect(lines.length).toBeGreaterThan(1000);
    for (const line of lines) {
      expect(line).not.toContain(SECRET);
      expect(line).not.toMatch(/token=/);
    }
    const all = lines.join('');
    for (const token of tokens) expect(all.includes(token)).toBe(false);
  });

  it('getRelays returns a copy', () => {
    vi.stubEnv('RTMP_RELAY_URLS', THREE);
    const service = new RtmpRelayService(pino({ level: 'silent' }));
    const relays = service.getRelays();
    relays.pop();
    expect(service.getRelays()).toHaveLength(3);
  });

  it('takes a logger and options together; options.relayUrls wins over both variables', () => {
    vi.stubEnv('RELAY_URLS', 'env-a.example.com');
    vi.stubEnv('RTMP_RELAY_URLS', 'env-b.example.com');
    const { logger, lines } = capturingLogger();
    const service = new RelayService(logger, { relayUrls: 'opt.example.com:1940', publishSecret: '' });
    expect(service.buildRelayUrl('a+tag@b.com', 's 1')).toBe('rtmp://opt.example.com:1940/live/a+tag@b.com/s%201');
    expect(parsed(lines).map((l) => l.msg)).toEqual(['relay endpoints']);
  });

  it('RELAY_URLS wins over a different RTMP_RELAY_URLS, with a warning; the same list warns nothing', () => {
    vi.stubEnv('RELAY_URLS', 'relay-new.example.com');
    vi.stubEnv('RTMP_RELAY_URLS', 'relay-old.example.com:1935');
    const first = capturingLogger();
    expect(new RtmpRelayService(first.logger).getRelays().map((r) => r.relayId)).toEqual([
      'relay-new.example.com:1935',
    ]);
    const warned = parsed(first.lines).filter((l) => l.level === 40);
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatchObject({ service: 'RelayService', using: 'RELAY_URLS', ignored: 'RTMP_RELAY_URLS' });

    vi.stubEnv('RTMP_RELAY_URLS', 'rtmp://relay-new.example.com:1935');
    const second = capturingLogger();
    new RtmpRelayService(second.logger);
    expect(parsed(second.lines).map((l) => l.msg)).toEqual(['relay endpoints']);

    // Without a logger it still prefers RELAY_URLS (and has nowhere to warn).
    vi.stubEnv('RTMP_RELAY_URLS', 'relay-old.example.com');
    expect(new RelayService().relays.map((r) => r.id)).toEqual(['relay-new.example.com:1935']);
  });

  it('with no relay list, throws naming both variables (no default host); a bad entry names its variable', () => {
    const { logger } = capturingLogger();
    expect(() => new RtmpRelayService(logger)).toThrow(/RELAY_URLS or RTMP_RELAY_URLS/);
    expect(() => new RelayService()).toThrow(/RELAY_URLS or RTMP_RELAY_URLS/);
    vi.stubEnv('RTMP_RELAY_URLS', 'http://relay.example.com');
    expect(() => new RtmpRelayService(logger)).toThrow(/^RTMP_RELAY_URLS: .* must be rtmp:\/\//);
  });
});
