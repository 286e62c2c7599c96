import { describe, expect, it } from 'vitest';
import { parsePublishSecrets, signPublishToken, tokenInQuery, verifyPublishToken } from './publish-token.js';

const NOW_MS = 1_780_000_000_000;
const PATH = 'live/u1/s1';

describe('publish token', () => {
  it('verifies what it signed, until the expiry, under any accepted secret', () => {
    const token = signPublishToken('b', PATH, NOW_MS + 60_000);
    expect(verifyPublishToken(['a', 'b'], PATH, token, NOW_MS)).toEqual({ ok: true, expiresAtMs: NOW_MS + 60_000 });
    expect(verifyPublishToken(['b'], PATH, token, NOW_MS + 59_999).ok).toBe(true);
    expect(verifyPublishToken(['b'], PATH, token, NOW_MS + 60_000)).toEqual({ ok: false, reason: 'expired' });
  });

  it('binds the path and the expiry', () => {
    const token = signPublishToken('k', PATH, NOW_MS + 60_000);
    expect(verifyPublishToken(['k'], 'live/u1/s2', token, NOW_MS)).toEqual({ ok: false, reason: 'invalid' });
    const [v, expiry, mac] = token.split('.') as [string, string, string];
    const later = `${v}.${Number(expiry) + 3600}.${mac}`;
    expect(verifyPublishToken(['k'], PATH, later, NOW_MS)).toEqual({ ok: false, reason: 'invalid' });
    expect(verifyPublishToken(['other'], PATH, token, NOW_MS)).toEqual({ ok: false, reason: 'invalid' });
  });

  it.each([
    [null, 'missing'],
    ['', 'missing'],
    ['v1.123', 'malformed'],
    ['v2.123.AAAA', 'malformed'],
    ['v1.12x.AAAA', 'malformed'],
    ['v1.123.AAAA', 'malformed'],
    [`v1.123.${'A'.repeat(200)}`, 'malformed'],
  ])('says why %j is refused: %s', (token, reason) => {
    expect(verifyPublishToken(['k'], PATH, token, NOW_MS)).toEqual({ ok: false, reason });
  });

  it('finds the token in a name, app or tcUrl query, and parses the secrets list', () => {
    expect(tokenInQuery('u1/s1?token=abc&x=1')).toBe('abc');
    expect(tokenInQuery('rtmp://h:1935/live?x=1&token=v1.2.3')).toBe('v1.2.3');
    expect(tokenInQuery('u1/s1')).toBeNull();
    expect(tokenInQuery('u1/s1?x=1')).toBeNull();
    expect(parsePublishSecrets(' new , old ,,')).toEqual(['new', 'old']);
    expect(parsePublishSecrets('')).toEqual([]);
    expect(() => signPublishToken('', PATH, NOW_MS)).toThrow();
  });
});
