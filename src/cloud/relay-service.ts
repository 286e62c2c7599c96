/**
 * Cloud side, part 1: which relay a user's glasses publish to.
 *
 * Rendezvous (highest-random-weight) hashing: each (user, relay) pair gets a score from a
 * hash, and the user goes to the relay with the highest score. Adding a relay moves only
 * the users whose new top score is that relay (about 1/N of them); removing one moves only
 * its own users; and the load is even because each pair's score is uniform. The seed's
 * md5(userId) mod N moved almost every user whenever N changed.
 *
 * Pure: no server code. Health filtering is optional (a relay whose /readyz fails is
 * skipped; answers are cached), and the relay list comes from RELAY_URLS as in the seed:
 * comma-separated `host[:port]` or `rtmp://host[:port]` entries.
 */
import { createHash } from 'node:crypto';
import {
  DEFAULT_PUBLISH_TOKEN_LIFETIME_MS,
  PUBLISH_TOKEN_PARAM,
  parsePublishSecrets,
  signPublishToken,
} from '../media/publish-token.js';

export interface RelayEndpoint {
  /** Stable identity used in the hash (`host:port`). */
  readonly id: string;
  readonly host: string;
  readonly rtmpPort: number;
  /** Where its /readyz lives, when health filtering is on. */
  readonly apiBaseUrl: string;
}

/** The RTMP port a relay entry without one gets. */
const DEFAULT_RTMP_PORT = 1935;
/** The relay API port (the seed's 9997). */
const DEFAULT_API_PORT = 9997;

/** Parse RELAY_URLS: `relay-a.example.com:1935,rtmp://relay-b.example.com`. */
export function parseRelayUrls(text: string, apiPort = DEFAULT_API_PORT): RelayEndpoint[] {
  const out: RelayEndpoint[] = [];
  for (const raw of text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)) {
    const withScheme = /^[a-z]+:\/\//i.test(raw) ? raw : `rtmp://${raw}`;
    let url: URL;
    try {
      url = new URL(withScheme);
    } catch {
      throw new Error(`RELAY_URLS: "${raw}" is not host[:port] or rtmp://host[:port]`);
    }
    if (url.protocol !== 'rtmp:') throw new Error(`RELAY_URLS: "${raw}" must be rtmp://`);
    const port = url.port ? Number(url.port) : DEFAULT_RTMP_PORT;
    out.push({
      id: `${url.hostname}:${port}`,
      host: url.hostname,
      rtmpPort: port,
      apiBaseUrl: `http://${url.hostname}:${apiPort}`,
    });
  }
  if (new Set(out.map((r) => r.id)).size !== out.length) throw new Error('RELAY_URLS: the same relay is listed twice');
  return out;
}

/** The rendezvous score of a (user, relay) pair: the first 8 bytes of SHA-256 as a number. */
export function rendezvousScore(userId: string, relayId: string): bigint {
  return createHash('sha256').update(`${userId}\u0000${relayId}`).digest().readBigUInt64BE(0);
}

/** The relay with the highest score for `userId` (ties: the smaller id, deterministic). */
export function pickRelay<T extends { id: string }>(userId: string, relays: readonly T[]): T | null {
  let best: T | null = null;
  let bestScore = -1n;
  for (const r of relays) {
    const score = rendezvousScore(userId, r.id);
    if (score > bestScore || (score === bestScore && best !== null && r.id < best.id)) {
      best = r;
      bestScore = score;
    }
  }
  return best;
}

export interface RelayServiceOptions {
  /** RELAY_URLS text (default: process.env.RELAY_URLS). */
  relayUrls?: string;
  /** Skip relays whose GET {api}/readyz does not answer 200. */
  healthCheck?: boolean;
  /** How long a health answer is reused, in ms. */
  healthCacheMs?: number;
  /** Per health request, in ms. */
  healthTimeoutMs?: number;
  /** The relay API port used for health checks (default 9997). */
  apiPort?: number;
  /**
   * RELAY_PUBLISH_SECRET text (default: the environment's): the first secret signs the publish
   * URLs; the relays accept any of theirs. Empty: URLs without a token (relays in local mode).
   */
  publishSecret?: string;
  /** How long a signed URL may be used to publish (reconnects included), in ms. Default 24 h. */
  tokenLifetimeMs?: number;
  /** The clock, for tests. */
  nowMs?: () => number;
}

export class RelayService {
  readonly relays: readonly RelayEndpoint[];
  private readonly options: Required<Omit<RelayServiceOptions, 'relayUrls' | 'apiPort' | 'publishSecret'>>;
  /** Signs publish URLs; null: unsigned. */
  private readonly signingSecret: string | null;
  private readonly health = new Map<string, { ok: boolean; untilMs: number }>();

  constructor(options: RelayServiceOptions = {}) {
    const text = options.relayUrls ?? process.env.RELAY_URLS ?? '';
    this.relays = parseRelayUrls(text, options.apiPort);
    if (this.relays.length === 0) throw new Error('RelayService: no relays (set RELAY_URLS)');
    this.options = {
      healthCheck: options.healthCheck ?? false,
      healthCacheMs: options.healthCacheMs ?? 10_000,
      healthTimeoutMs: options.healthTimeoutMs ?? 1000,
      tokenLifetimeMs: options.tokenLifetimeMs ?? DEFAULT_PUBLISH_TOKEN_LIFETIME_MS,
      nowMs: options.nowMs ?? Date.now,
    };
    this.signingSecret =
      parsePublishSecrets(options.publishSecret ?? process.env.RELAY_PUBLISH_SECRET ?? '')[0] ?? null;
  }

  /** The relay for a user, ignoring health. */
  relayFor(userId: string): RelayEndpoint {
    return pickRelay(userId, this.relays) as RelayEndpoint;
  }

  /** The relay for a user among the healthy ones (all of them when none answers). */
  async healthyRelayFor(userId: string): Promise<RelayEndpoint> {
    if (!this.options.healthCheck) return this.relayFor(userId);
    const states = await Promise.all(this.relays.map(async (r) => ((await this.isHealthy(r)) ? r : null)));
    const healthy = states.filter((r): r is RelayEndpoint => r !== null);
    return pickRelay(userId, healthy.length > 0 ? healthy : this.relays) as RelayEndpoint;
  }

  /**
   * The URL the glasses publish to: rtmp://host:port/live/{userId}/{streamId}, signed with
   * `?token=` when a publish secret is set (the token binds the path and an expiry).
   */
  buildRelayUrl(userId: string, streamId: string, relay: RelayEndpoint = this.relayFor(userId)): string {
    const path = `live/${encodeURIComponent(userId)}/${encodeURIComponent(streamId)}`;
    const url = `rtmp://${relay.host}:${relay.rtmpPort}/${path}`;
    if (this.signingSecret === null) return url;
    const token = signPublishToken(this.signingSecret, path, this.options.nowMs() + this.options.tokenLifetimeMs);
    return `${url}?${PUBLISH_TOKEN_PARAM}=${token}`;
  }

  private async isHealthy(relay: RelayEndpoint): Promise<boolean> {
    const cached = this.health.get(relay.id);
    if (cached !== undefined && cached.untilMs > Date.now()) return cached.ok;
    let ok = false;
    try {
      const res = await fetch(`${relay.apiBaseUrl}/readyz`, {
        signal: AbortSignal.timeout(this.options.healthTimeoutMs),
      });
      ok = res.status === 200;
    } catch {
      ok = false;
    }
    this.health.set(relay.id, { ok, untilMs: Date.now() + this.options.healthCacheMs });
    return ok;
  }
}
