/**
 * The relay: joins the ingest server to one {@link RelaySession} per published path. It
 * answers the server's publish authorization (destination lookup) before any media is
 * accepted, and keeps a path's session alive across publisher reconnects.
 */
import type { Logger } from 'pino';
import type { LiveStreamRegistry } from '../live/live-streams.js';
import type { PublishDecision, PublishRequest } from '../rtmp/session-context.js';
import type { DestinationResolver } from './destination.js';
import type { RelayMetrics } from '../metrics/relay-metrics.js';
import { TranscodeSlots } from '../fallback/transcode-slots.js';
import { RelaySession, type RelaySessionOptions } from './relay-session.js';

/** Concurrent libx264 transcodes: each costs many remuxed streams' CPU, so they are capped. */
export const DEFAULT_MAX_TRANSCODES = 4;

export class Relay {
  readonly resolver: DestinationResolver;
  readonly options: RelaySessionOptions;
  private readonly registry: LiveStreamRegistry;
  private readonly log: Logger;
  private readonly sessions = new Map<string, RelaySession>();
  /** Lookups under way, so two quick publishes of one path share one. */
  private readonly resolving = new Map<string, Promise<PublishDecision>>();
  readonly stats = { publishesAccepted: 0, publishesRejected: 0, sessionsStarted: 0, sessionsEnded: 0 };
  /** The concurrent transcode cap, shared by every stream. */
  readonly transcodeSlots: TranscodeSlots;

  private readonly metrics: RelayMetrics | undefined;

  constructor(opts: {
    registry: LiveStreamRegistry;
    resolver: DestinationResolver;
    options: RelaySessionOptions;
    logger: Logger;
    maxTranscodes?: number;
    metrics?: RelayMetrics;
  }) {
    this.metrics = opts.metrics;
    this.transcodeSlots = new TranscodeSlots(opts.maxTranscodes ?? DEFAULT_MAX_TRANSCODES);
    this.registry = opts.registry;
    this.resolver = opts.resolver;
    this.options = opts.options;
    this.log = opts.logger.child({ component: 'relay' });
  }

  get activeSessions(): RelaySession[] {
    return [...this.sessions.values()];
  }

  /** The server's publish hook: accept when the path has (or gets) a destination. */
  readonly authorizePublish = (request: PublishRequest): Promise<PublishDecision> => {
    const key = request.path.path;
    if (this.draining) {
      this.stats.publishesRejected++;
      return Promise.resolve({ ok: false, reason: 'relay is draining: publish to another relay' });
    }
    const existing = this.sessions.get(key);
    if (existing !== undefined && !existing.isEnding) {
      this.stats.publishesAccepted++;
      return Promise.resolve({ ok: true });
    }
    let pending = this.resolving.get(key);
    if (pending === undefined) {
      pending = this.startSession(request).finally(() => this.resolving.delete(key));
      this.resolving.set(key, pending);
    }
    return pending;
  };

  private async startSession(request: PublishRequest): Promise<PublishDecision> {
    const key = request.path.path;
    // A session still unpublishing upstream finishes first: one upstream per path at a time.
    await this.sessions.get(key)?.end('replaced by a new publish');
    const result = await this.resolver.resolve(request.path);
    if (!result.ok) {
      this.stats.publishesRejected++;
      this.log.info(
        { path: key, session: request.sessionId, reason: result.reason },
        'publish refused: no destination',
      );
      return { ok: false, reason: result.reason };
    }
    const session = new RelaySession({
      path: request.path,
      destination: result.destination,
      registry: this.registry,
      options: this.options,
      logger: this.log,
      slots: this.transcodeSlots,
      ...(this.metrics ? { metrics: this.metrics } : {}),
      onEnded: (s) => {
        if (this.sessions.get(key) === s) this.sessions.delete(key);
        this.stats.sessionsEnded++;
      },
    });
    this.sessions.set(key, session);
    this.stats.sessionsStarted++;
    this.stats.publishesAccepted++;
    return { ok: true };
  }

  private draining = false;

  get isDraining(): boolean {
    return this.draining;
  }

  /**
   * Graceful drain: refuse new publishes, let live streams go on until they end (their grace
   * period included) or `timeoutMs` passes, then end what is left (FCUnpublish upstream).
   */
  async drain(timeoutMs: number): Promise<{ endedOnTheirOwn: number; closed: number }> {
    this.draining = true;
    const before = this.sessions.size;
    const deadline = Date.now() + timeoutMs;
    while (this.sessions.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const left = this.sessions.size;
    await this.close();
    return { endedOnTheirOwn: before - left, closed: left };
  }

  /** Kill every ffmpeg at once (a second signal: rinse exits now, nothing left behind). */
  killTranscoders(): void {
    for (const s of this.sessions.values()) s.killTranscoder();
  }

  /** End every session (upstreams unpublished); for shutdown. */
  async close(): Promise<void> {
    await Promise.all([...this.sessions.values()].map((s) => s.end('relay shutting down')));
  }
}
