/**
 * The relay: joins the ingest server to one {@link RelaySession} per published path. It
 * answers the server's publish authorization (destination lookup) before any media is
 * accepted, and keeps a path's session alive across publisher reconnects.
 */
import type { Logger } from 'pino';
import type { LiveStreamRegistry } from '../rtmp/live-streams.js';
import type { PublishDecision, PublishRequest } from '../rtmp/server-session.js';
import type { DestinationResolver } from './destination.js';
import { TranscodeSlots } from '../fallback/fallback-switch.js';
import { RelaySession, type RelaySessionOptions } from './relay-session.js';

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

  constructor(opts: { registry: LiveStreamRegistry; resolver: DestinationResolver; options: RelaySessionOptions; logger: Logger; maxTranscodes?: number }) {
    this.transcodeSlots = new TranscodeSlots(opts.maxTranscodes ?? 4);
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
      this.log.info({ path: key, session: request.sessionId, reason: result.reason }, 'publish refused: no destination');
      return { ok: false, reason: result.reason };
    }
    const session = new RelaySession({
      path: request.path,
      destination: result.destination,
      registry: this.registry,
      options: this.options,
      logger: this.log,
      slots: this.transcodeSlots,
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

  /** End every session (upstreams unpublished); for shutdown. */
  async close(): Promise<void> {
    await Promise.all([...this.sessions.values()].map((s) => s.end('relay shutting down')));
  }
}
