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
 * skipped; answers are cached), and the relay list comes from RELAY_URLS (or the seed's
 * RTMP_RELAY_URLS): comma-separated `host[:port]` or `rtmp://host[:port]` entries.
 *
 * A drop-in for the seed's RtmpRelayService too: `new RelayService(logger)` with a pino-like
 * logger, `getRelayForUser`, `getRelays` and `buildRelayUrl(userId, streamId)`, and the
 * aliases `RtmpRelayService` and `RtmpRelayEndpoint`, so the seed changes only its import.
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
  /**
   * The seed's name for the relay, which it uses only in logs: the same stable `host:port` as
   * `id`, not the seed's `relay-<index>`. An index names a different relay whenever the list
   * is reordered or grown, so logs from two deploys would disagree; `host:port` also matches
   * what the relay's own logs and metrics call it.
   */
  readonly relayId: string;
  /** The seed's name for `host`. */
  readonly hostname: string;
  /** The seed's name for `rtmpPort`. */
  readonly port: number;
  /** `rtmp://host:port`, the base of the publish URLs. */
  readonly rtmpUrl: string;
  /** In the seed's shape for the code that reads it; never set (rinse relays serve no HLS). */
  readonly hlsBaseUrl?: string;
}

/** The seed's endpoint type: the same object, which carries the seed's field names. */
export type RtmpRelayEndpoint = RelayEndpoint;

/**
 * What the seed's `Logger` (pino) offers that RelayService uses; any object with `child` and
 * `info` functions is taken as a logger. It is given relay ids and hosts, never tokens or secrets.
 */
export interface RelayServiceLogger {
  child(bindings: Record<string, unknown>): RelayServiceLogger;
  info(obj: object, msg: string): void;
  warn?(obj: object, msg: string): void;
}

/** The environment variables a relay list is read from, in order of preference. */
const RELAY_URL_VARS = ['RELAY_URLS', 'RTMP_RELAY_URLS'] as const;

/** The RTMP port a relay entry without one gets. */
const DEFAULT_RTMP_PORT = 1935;
/** The relay API port (the seed's 9997). */
const DEFAULT_API_PORT = 9997;

/**
 * Parse RELAY_URLS: `relay-a.example.com:1935,rtmp://relay-b.example.com`. `source` names the
 * setting in error messages.
 */
export function parseRelayUrls(text: string, apiPort = DEFAULT_API_PORT, source = 'RELAY_URLS'): RelayEndpoint[] {
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
      throw new Error(`${source}: "${raw}" is not host[:port] or rtmp://host[:port]`);
    }
    if (url.protocol !== 'rtmp:') throw new Error(`${source}: "${raw}" must be rtmp://`);
    const port = url.port ? Number(url.port) : DEFAULT_RTMP_PORT;
    const id = `${url.hostname}:${port}`;
    out.push({
      id,
      host: url.hostname,
      rtmpPort: port,
      apiBaseUrl: `http://${url.hostname}:${apiPort}`,
      relayId: id,
      hostname: url.hostname,
      port,
      rtmpUrl: `rtmp://${id}`,
    });
  }
  if (new Set(out.map((r) => r.id)).size !== out.length) throw new Error(`${source}: the same relay is listed twice`);
  return out;
}

/** Whether `x` is a pino-like logger (by shape, not class: the cloud's pino may be another copy). */
function isLogger(x: unknown): x is RelayServiceLogger {
  if (typeof x !== 'object' || x === null) return false;
  const o = x as { child?: unknown; info?: unknown };
  return typeof o.child === 'function' && typeof o.info === 'function';
}

/** A set environment variable's text; blank counts as unset. */
function envText(name: string): string | undefined {
  const v = process.env[name];
  return v !== undefined && v.trim().length > 0 ? v : undefined;
}

/** Whether two relay lists name the same relays (a list that does not parse differs). */
function sameRelays(a: string, b: string): boolean {
  try {
    const ids = (t: string): string =>
      parseRelayUrls(t)
        .map((r) => r.id)
        .sort()
        .join(',');
    return ids(a) === ids(b);
  } catch {
    return false;
  }
}

/**
 * The relay list's text and where it came from: options.relayUrls, else RELAY_URLS, else the
 * seed's RTMP_RELAY_URLS. When both variables are set and name different relays, RELAY_URLS
 * wins and the logger (if any) gets a warning.
 */
function relayListSource(
  relayUrls: string | undefined,
  log: RelayServiceLogger | null,
): { text: string; source: string } {
  if (relayUrls !== undefined) return { text: relayUrls, source: 'relayUrls' };
  const [primary, seed] = RELAY_URL_VARS.map(envText);
  if (primary !== undefined && seed !== undefined && !sameRelays(primary, seed)) {
    log?.warn?.({ using: RELAY_URL_VARS[0], ignored: RELAY_URL_VARS[1] }, 'RELAY_URLS and RTMP_RELAY_URLS differ');
  }
  if (primary !== undefined) return { text: primary, source: RELAY_URL_VARS[0] };
  if (seed !== undefined) return { text: seed, source: RELAY_URL_VARS[1] };
  return { text: '', source: RELAY_URL_VARS[0] };
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
  /** RELAY_URLS text (default: process.env.RELAY_URLS, else the seed's RTMP_RELAY_URLS). */
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

/** A URL path segment for a relay path: percent-encoded, `@` and `+` kept. */
function pathSegment(id: string): string {
  return encodeURIComponent(id).replace(/%40/g, '@').replace(/%2B/g, '+');
}

export class RelayService {
  readonly relays: readonly RelayEndpoint[];
  private readonly options: Required<Omit<RelayServiceOptions, 'relayUrls' | 'apiPort' | 'publishSecret'>>;
  /** Signs publish URLs; null: unsigned. */
  private readonly signingSecret: string | null;
  private readonly health = new Map<string, { ok: boolean; untilMs: number }>();
  /** The given logger's child for this service; null without one. */
  private readonly log: RelayServiceLogger | null;

  /** `new RelayService(options?)`, or the seed's `new RelayService(logger)` (options optional). */
  constructor(options?: RelayServiceOptions);
  constructor(logger: RelayServiceLogger, options?: RelayServiceOptions);
  constructor(first?: RelayServiceOptions | RelayServiceLogger, second?: RelayServiceOptions) {
    const logger = isLogger(first) ? first : null;
    const options: RelayServiceOptions = (logger === null ? (first as RelayServiceOptions | undefined) : second) ?? {};
    this.log = logger === null ? null : logger.child({ service: 'RelayService' });
    const list = relayListSource(options.relayUrls, this.log);
    this.relays = parseRelayUrls(list.text, options.apiPort, list.source);
    if (this.relays.length === 0) throw new Error('RelayService: no relays (set RELAY_URLS or RTMP_RELAY_URLS)');
    this.options = {
      healthCheck: options.healthCheck ?? false,
      healthCacheMs: options.healthCacheMs ?? 10_000,
      healthTimeoutMs: options.healthTimeoutMs ?? 1000,
      tokenLifetimeMs: options.tokenLifetimeMs ?? DEFAULT_PUBLISH_TOKEN_LIFETIME_MS,
      nowMs: options.nowMs ?? Date.now,
    };
    this.signingSecret =
      parsePublishSecrets(options.publishSecret ?? process.env.RELAY_PUBLISH_SECRET ?? '')[0] ?? null;
    this.log?.info(
      {
        count: this.relays.length,
        relays: this.relays.map((r) => ({ relayId: r.relayId, hostname: r.hostname, port: r.port })),
        source: list.source,
        signed: this.signingSecret !== null,
      },
      'relay endpoints',
    );
  }

  /** The relay for a user, ignoring health. */
  relayFor(userId: string): RelayEndpoint {
    return pickRelay(userId, this.relays) as RelayEndpoint;
  }

  /** The seed's name for `relayFor`: the same relay (rendezvous hashing, not md5 mod N). */
  getRelayForUser(userId: string): RtmpRelayEndpoint {
    return this.relayFor(userId);
  }

  /** All relays, in list order (a copy, as the seed's). */
  getRelays(): RtmpRelayEndpoint[] {
    return [...this.relays];
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
   * `?token=` when a publish secret is set (the token binds the path and an expiry). The ids
   * are percent-encoded except `@` and `+`, which the relay's paths take as they are: an
   * email user id stays `a+tag@b.com`, the user id the relay logs and looks up.
   */
  buildRelayUrl(userId: string, streamId: string, relay: RelayEndpoint = this.relayFor(userId)): string {
    const path = `live/${pathSegment(userId)}/${pathSegment(streamId)}`;
    const url = `${relay.rtmpUrl}/${path}`;
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
