/**
 * The publish token: what the cloud signs into a relay URL and the relay checks before it
 * accepts a publish. Shared by both ends, so its format is written once.
 *
 *     token = "v1." expirySeconds "." base64url(HMAC-SHA256(secret, "v1\n" path "\n" expirySeconds))
 *
 * `path` is the stream path `app/userId/streamId`; `expirySeconds` is a Unix time in whole
 * seconds. The token travels as the `token` query parameter of the publish URL, which RTMP
 * clients keep in the publish name or in the tcUrl.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

/** The URL query parameter that carries the token. */
export const PUBLISH_TOKEN_PARAM = 'token';
/** Long enough for a broadcast's reconnects over a day; the cloud may choose another. */
export const DEFAULT_PUBLISH_TOKEN_LIFETIME_MS = 24 * 60 * 60 * 1000;

const VERSION = 'v1';
/** HMAC-SHA256 output. */
const MAC_BYTES = 32;
/** Anything longer is not a token of ours; checked before any parsing. */
const MAX_TOKEN_CHARS = 128;

function mac(secret: string, path: string, expirySeconds: number): Buffer {
  return createHmac('sha256', secret).update(`${VERSION}\n${path}\n${expirySeconds}`).digest();
}

/** A token for `path` that expires at `expiresAtMs` (rounded down to a whole second). */
export function signPublishToken(secret: string, path: string, expiresAtMs: number): string {
  if (secret.length === 0) throw new Error('signPublishToken: empty secret');
  const expirySeconds = Math.floor(expiresAtMs / 1000);
  return `${VERSION}.${expirySeconds}.${mac(secret, path, expirySeconds).toString('base64url')}`;
}

export type PublishTokenVerdict =
  { ok: true; expiresAtMs: number } | { ok: false; reason: 'missing' | 'malformed' | 'expired' | 'invalid' };

/**
 * Check `token` for `path` against every accepted secret (rotation: old and new at once).
 * The MAC comparison is constant-time; every secret is tried, so timing does not tell
 * which one matched.
 */
export function verifyPublishToken(
  secrets: readonly string[],
  path: string,
  token: string | null,
  nowMs: number,
): PublishTokenVerdict {
  if (token === null || token.length === 0) return { ok: false, reason: 'missing' };
  if (token.length > MAX_TOKEN_CHARS) return { ok: false, reason: 'malformed' };
  const parts = token.split('.');
  if (parts.length !== 3 || parts[0] !== VERSION || !/^\d{1,12}$/.test(parts[1] ?? '')) {
    return { ok: false, reason: 'malformed' };
  }
  const expirySeconds = Number(parts[1]);
  const given = Buffer.from(parts[2] ?? '', 'base64url');
  if (given.length !== MAC_BYTES) return { ok: false, reason: 'malformed' };
  let matched = false;
  for (const secret of secrets) {
    if (timingSafeEqual(mac(secret, path, expirySeconds), given)) matched = true;
  }
  if (!matched) return { ok: false, reason: 'invalid' };
  const expiresAtMs = expirySeconds * 1000;
  if (nowMs >= expiresAtMs) return { ok: false, reason: 'expired' };
  return { ok: true, expiresAtMs };
}

/** The token in a URL-ish string's query (`name?token=…`, `rtmp://h/live?token=…`), or null. */
export function tokenInQuery(text: string): string | null {
  const q = text.indexOf('?');
  if (q === -1) return null;
  return new URLSearchParams(text.slice(q + 1)).get(PUBLISH_TOKEN_PARAM);
}

/** Secrets from RELAY_PUBLISH_SECRET's text: comma-separated, blanks ignored. */
export function parsePublishSecrets(text: string): string[] {
  return text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
}
