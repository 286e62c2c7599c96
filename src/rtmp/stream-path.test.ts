import { describe, expect, it } from 'vitest';
import { resolveStreamPath } from './stream-path.js';

describe('resolveStreamPath', () => {
  it('accepts the FFmpeg split (app "live", name "u/s")', () => {
    expect(resolveStreamPath('live', 'u1/s1', ['live'])?.path).toBe('live/u1/s1');
  });
  it('accepts the OBS-style split (app "live/u", name "s") and strips query strings', () => {
    expect(resolveStreamPath('live/u1?token=x', 's1?key=secret', ['live'])).toEqual({
      app: 'live',
      userId: 'u1',
      streamId: 's1',
      path: 'live/u1/s1',
    });
  });
  it('accepts email addresses as user ids', () => {
    expect(resolveStreamPath('live', 'a+tag@example.com/s1', ['live'])?.userId).toBe('a+tag@example.com');
  });
  it('rejects other apps, missing or extra segments and unsafe names', () => {
    expect(resolveStreamPath('other', 'u/s', ['live'])).toBeNull();
    expect(resolveStreamPath('live', 's', ['live'])).toBeNull();
    expect(resolveStreamPath('live', 'a/b/c', ['live'])).toBeNull();
    expect(resolveStreamPath('live', '../s', ['live'])).toBeNull();
    expect(resolveStreamPath('live', 'u/s%00', ['live'])).toBeNull();
    expect(resolveStreamPath('live', `u/${'x'.repeat(129)}`, ['live'])).toBeNull();
  });
});
