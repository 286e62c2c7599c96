import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, resolveServeConfig } from './config.js';

function configFile(settings: unknown): string {
  const file = join(mkdtempSync(join(tmpdir(), 'rinse-config-')), 'rinse.json');
  writeFileSync(file, JSON.stringify(settings));
  return file;
}

describe('resolveServeConfig: flags > env > config file > defaults', () => {
  it('uses the defaults with nothing set (local mode)', () => {
    const c = resolveServeConfig({}, {});
    expect(c).toMatchObject({
      rtmpPort: 1935,
      host: '0.0.0.0',
      app: 'live',
      target: null,
      cloudApiUrl: null,
      graceMs: 10_000,
      stallMs: 5_000,
      recordingsDir: 'recordings',
    });
    expect(c.sources).toEqual({});
  });

  it('takes each source in order and says where each setting came from', () => {
    const file = configFile({ rtmpPort: 1000, graceMs: 2000, stallMs: 3000, target: 'rtmp://file/app/{streamId}' });
    const c = resolveServeConfig(
      { config: file, 'rtmp-port': '3000' },
      { RINSE_RTMP_PORT: '2000', RINSE_GRACE_MS: '4000' },
    );
    expect(c).toMatchObject({ rtmpPort: 3000, graceMs: 4000, stallMs: 3000, target: 'rtmp://file/app/{streamId}' });
    expect(c.sources).toMatchObject({ rtmpPort: 'flag', graceMs: 'env', stallMs: 'config', target: 'config' });
  });

  it('reads the cloud API URL and token from the environment', () => {
    const c = resolveServeConfig({}, { CLOUD_API_URL: 'https://api.example.com', RELAY_API_TOKEN: 'tok' });
    expect(c).toMatchObject({ cloudApiUrl: 'https://api.example.com', relayApiToken: 'tok' });
  });

  it('names the source of a bad value, and never prints a secret', () => {
    expect(() => resolveServeConfig({ 'rtmp-port': '70000' }, {})).toThrow('--rtmp-port: expected 1..65535, got 70000');
    expect(() => resolveServeConfig({}, { RINSE_GRACE_MS: 'soon' })).toThrow(
      'env RINSE_GRACE_MS: expected a whole number, got "soon"',
    );
    expect(() => resolveServeConfig({ config: configFile({ stallMs: 5 }) }, {})).toThrow(
      'config "stallMs": expected 100..3600000, got 5',
    );
    expect(() => resolveServeConfig({ config: configFile({ bogus: 1 }) }, {})).toThrow(/unknown setting "bogus"/);
    expect(() => resolveServeConfig({ config: '/nonexistent/rinse.json' }, {})).toThrow(ConfigError);
  });

  it('refuses a target and a cloud API URL together', () => {
    expect(() => resolveServeConfig({ target: 'rtmp://h/a/b' }, { CLOUD_API_URL: 'https://api' })).toThrow(
      /choose one/,
    );
  });
});
