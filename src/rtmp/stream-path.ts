/**
 * Stream paths: `{app}/{userId}/{streamId}`.
 *
 * Clients split a URL like rtmp://host/live/u1/s1 differently: FFmpeg sends app "live"
 * and stream name "u1/s1"; OBS-style clients may send app "live/u1" and name "s1". We join
 * app and name, drop any query string (tokens stay out of paths and logs), and accept
 * exactly three safe segments.
 */

/**
 * Characters allowed in a user or stream id: URL-safe, no separators, no dot-only names; `@`
 * and `+` too, since the cloud's user ids are email addresses (`a+tag@example.com`).
 */
const SEGMENT = /^[A-Za-z0-9_~.@+-]{1,128}$/;

export interface StreamPath {
  readonly app: string;
  readonly userId: string;
  readonly streamId: string;
  /** `app/userId/streamId`: the key of the live path. */
  readonly path: string;
}

function stripQuery(s: string): string {
  const q = s.indexOf('?');
  return q === -1 ? s : s.slice(0, q);
}

/** The app name as a client sent it in connect, without query string and slashes at the ends. */
export function normaliseApp(app: string): string {
  return stripQuery(app).replace(/^\/+|\/+$/g, '');
}

/**
 * Resolve the connect `app` and the publish/play `name` into a stream path whose app is one
 * of `apps`. Returns null when the result is not exactly `{app}/{userId}/{streamId}`.
 */
export function resolveStreamPath(app: string, name: string, apps: readonly string[]): StreamPath | null {
  const segments = `${normaliseApp(app)}/${stripQuery(name)}`.split('/').filter((s) => s.length > 0);
  if (segments.length !== 3) return null;
  const [first, userId, streamId] = segments as [string, string, string];
  if (!apps.includes(first)) return null;
  for (const id of [userId, streamId]) {
    if (!SEGMENT.test(id) || /^\.+$/.test(id)) return null;
  }
  return { app: first, userId, streamId, path: `${first}/${userId}/${streamId}` };
}
