/**
 * Whether a publish may start, decided before any of its media is accepted, in order:
 *
 * 1. the publish token (when secrets are configured): HMAC over the path and an expiry,
 *    taken from the publish name's query, else the connect app's, else the tcUrl's;
 * 2. the relay's hook (destination lookup);
 * 3. the path: a live publisher keeps it unless it has been silent for the stale time or
 *    the newcomer presents the same token. A busy path is asked once more after the
 *    current publisher would have gone stale, so a reconnect that races its own dying
 *    connection still gets in.
 *
 * A refusal carries a stable code and a reason that never includes the token.
 */
import { createHash } from 'node:crypto';
import { tokenInQuery, verifyPublishToken } from '../media/publish-token.js';
import { RtmpErrorCode } from './errors.js';
import type { PublishRequest, SessionContext } from './session-context.js';
import type { PublishedStream, StreamPublisher } from './stream-hub.js';

/** Slack after the stale time before the second ask, in ms: timers fire a little early or late. */
const STALE_RECHECK_SLACK_MS = 25;

/** Where a client may have put the publish URL's query. */
export interface PublishUrlParts {
  /** The publish command's stream name, as sent. */
  readonly name: string;
  /** The connect command's app, as sent. */
  readonly app: string;
  /** The connect command's tcUrl, as sent ('' when absent). */
  readonly tcUrl: string;
}

export type PublishAdmission =
  { ok: true; stream: PublishedStream } | { ok: false; code: string | null; reason: string };

export type TokenCheck = { ok: true; credential: string | undefined } | { ok: false; code: string; reason: string };

/** The token check alone (step 1); `credential` is the token's digest, never the token. */
export function checkPublishToken(
  secrets: readonly string[] | undefined,
  path: string,
  url: PublishUrlParts,
  nowMs = Date.now(),
): TokenCheck {
  if (secrets === undefined || secrets.length === 0) return { ok: true, credential: undefined };
  const token = tokenInQuery(url.name) ?? tokenInQuery(url.app) ?? tokenInQuery(url.tcUrl);
  const verdict = verifyPublishToken(secrets, path, token, nowMs);
  if (!verdict.ok) {
    return { ok: false, code: RtmpErrorCode.PUBLISH_UNAUTHORIZED, reason: `publish token ${verdict.reason}` };
  }
  return {
    ok: true,
    credential: createHash('sha256')
      .update(token ?? '')
      .digest('hex'),
  };
}

const BUSY = { ok: false, code: RtmpErrorCode.PUBLISH_BUSY, reason: 'already publishing' } as const;

const GONE = { ok: false, code: null, reason: 'session ended' } as const;

/**
 * Steps 2 and 3 for a publisher whose token passed. Synchronous when there is no hook and
 * the path is free, so media right behind the publish command is taken (a publisher may send
 * it in the same TCP segment); otherwise a promise, and media waits for it. `isGone` says the
 * session ended while waiting (nothing is claimed then).
 */
export function admitPublish(
  ctx: SessionContext,
  request: PublishRequest,
  publisher: StreamPublisher,
  isGone: () => boolean,
): PublishAdmission | Promise<PublishAdmission> {
  const hook = ctx.authorizePublish;
  if (hook === undefined) {
    const first = ctx.hub.claim(request.path.path, publisher);
    return first.ok ? first : claimWhenStale(ctx, request, publisher, isGone, first);
  }
  return hook(request).then((decision) => {
    if (!decision.ok) return { ok: false, code: null, reason: decision.reason };
    if (isGone()) return GONE;
    const first = ctx.hub.claim(request.path.path, publisher);
    return first.ok ? first : claimWhenStale(ctx, request, publisher, isGone, first);
  });
}

/** Ask once more when the current publisher would have gone stale. */
async function claimWhenStale(
  ctx: SessionContext,
  request: PublishRequest,
  publisher: StreamPublisher,
  isGone: () => boolean,
  busy: { silentMs: number; staleAfterMs: number },
): Promise<PublishAdmission> {
  await new Promise((resolve) => setTimeout(resolve, busy.staleAfterMs - busy.silentMs + STALE_RECHECK_SLACK_MS));
  if (isGone()) return GONE;
  const second = ctx.hub.claim(request.path.path, publisher);
  return second.ok ? second : BUSY;
}
