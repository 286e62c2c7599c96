/**
 * The RTMPS settings checked together: off by default, 1936 when on, both files needed, a
 * certificate without `rtmps on` refused, and a bad pair a config error that names the file.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, resolveServeConfig } from './config.js';
import { loadStartupCredentials, rtmpsConfigOf } from './rtmps-ingest.js';
import { TEST_PAIRS, plainCertFiles } from '../test/support/tls-files.js';

const files = plainCertFiles(TEST_PAIRS.first);
const config = (flags: Record<string, string>, env: NodeJS.ProcessEnv = {}) =>
  rtmpsConfigOf(resolveServeConfig(flags, env));

describe('rtmpsConfigOf', () => {
  it('is off by default, and on at 1936 with both files', () => {
    expect(config({})).toBeNull();
    expect(config({ rtmps: 'on', 'tls-cert': files.certPath, 'tls-key': files.keyPath })).toEqual({
      port: 1936,
      certPath: files.certPath,
      keyPath: files.keyPath,
    });
  });

  it('takes the environment and another port', () => {
    expect(
      config({}, { RINSE_RTMPS: 'on', RINSE_RTMPS_PORT: '8443', RINSE_TLS_CERT: 'a.crt', RINSE_TLS_KEY: 'a.key' }),
    ).toEqual({ port: 8443, certPath: 'a.crt', keyPath: 'a.key' });
  });

  it.each([
    [{ rtmps: 'yes' }, 'rtmps: expected off|on, got "yes"'],
    [{ rtmps: 'on' }, 'rtmps is on: both --tls-cert and --tls-key'],
    [{ rtmps: 'on', 'tls-cert': 'a.crt' }, 'rtmps is on: both --tls-cert and --tls-key'],
    [{ 'tls-cert': 'a.crt', 'tls-key': 'a.key' }, 'tlsCert and tlsKey set but rtmps is off: add --rtmps on'],
    [{ rtmps: 'on', 'tls-cert': 'a', 'tls-key': 'b', 'rtmps-port': '1935' }, 'RTMPS needs a port of its own'],
  ])('refuses %j', (flags, message) => {
    expect(() => config(flags)).toThrow(ConfigError);
    expect(() => config(flags)).toThrow(message);
  });

  it('ignores rtmpsPort while RTMPS is off (the example config file lists it)', () => {
    expect(config({ 'rtmps-port': '2000' })).toBeNull();
  });
});

describe('loadStartupCredentials', () => {
  it('loads a good pair, and turns a bad one into a config error with its code', () => {
    expect(loadStartupCredentials({ port: 1936, ...files }).info.subject).toBe('CN=rinse test receiver');
    const missing = { port: 1936, certPath: `${files.dir}/none.crt`, keyPath: files.keyPath };
    expect(() => loadStartupCredentials(missing)).toThrow(ConfigError);
    expect(() => loadStartupCredentials(missing)).toThrow(/none\.crt: ENOENT \(ERR_TLS_CERT_UNREADABLE\)$/);
    const mismatch = plainCertFiles({ cert: TEST_PAIRS.first.cert, key: TEST_PAIRS.rotated.key });
    expect(() => loadStartupCredentials({ port: 1936, ...mismatch })).toThrow('(ERR_TLS_KEY_MISMATCH)');
  });
});
