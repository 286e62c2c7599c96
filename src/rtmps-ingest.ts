/**
 * RTMPS ingest for `rinse serve`: its settings checked together (`rtmps on` needs both files,
 * and a certificate and key that load and match, or the start fails with a config error),
 * and the watcher that re-reads the pair when its files change, with its log and metrics.
 */
import { ConfigError, type ServeConfig } from './config.js';
import type { Logger } from './log.js';
import type { RelayMetrics } from './metrics/relay-metrics.js';
import type { RtmpServer } from './rtmp/server.js';
import { loadTlsCredentials, type TlsCredentials } from './rtmp/tls-credentials.js';
import { TlsCredentialsWatcher, type TlsWatchOptions } from './rtmp/tls-credentials-watcher.js';
import { TlsError } from './rtmp/tls-errors.js';
import { RTMPS_MODES } from './settings.js';

export interface RtmpsConfig {
  port: number;
  certPath: string;
  keyPath: string;
}

/** The RTMPS settings, or null when RTMPS is off; a {@link ConfigError} when they do not fit together. */
export function rtmpsConfigOf(config: Pick<ServeConfig, 'values'>): RtmpsConfig | null {
  const v = config.values;
  if (!(RTMPS_MODES as readonly string[]).includes(v.rtmps))
    throw new ConfigError(`rtmps: expected ${RTMPS_MODES.join('|')}, got "${v.rtmps}"`);
  const given = (['tlsCert', 'tlsKey'] as const).filter((name) => v[name] !== null);
  if (v.rtmps === 'off') {
    // A certificate given with RTMPS off is almost surely a forgotten `--rtmps on`: publishers would send tokens in clear.
    if (given.length > 0)
      throw new ConfigError(`${given.join(' and ')} set but rtmps is off: add --rtmps on (env RINSE_RTMPS=on)`);
    return null;
  }
  if (v.tlsCert === null || v.tlsKey === null)
    throw new ConfigError('rtmps is on: both --tls-cert and --tls-key (env RINSE_TLS_CERT, RINSE_TLS_KEY) are needed');
  if (v.rtmpsPort === v.rtmpPort)
    throw new ConfigError(`rtmpsPort and rtmpPort are both ${v.rtmpPort}: RTMPS needs a port of its own`);
  return { port: v.rtmpsPort, certPath: v.tlsCert, keyPath: v.tlsKey };
}

/** The first load: a file that is missing, unreadable or wrong stops the start. */
export function loadStartupCredentials(rtmps: RtmpsConfig): TlsCredentials {
  try {
    return loadTlsCredentials(rtmps);
  } catch (err) {
    if (err instanceof TlsError) throw new ConfigError(`rtmps: ${err.message} (${err.code})`);
    throw err;
  }
}

/** Log fields of the pair in use: public facts only, never key material. */
export function certificateFields(credentials: TlsCredentials): Record<string, string> {
  return {
    certSubject: credentials.info.subject,
    certFingerprint: credentials.info.fingerprint256,
    certNotAfter: credentials.info.notAfter,
  };
}

/** Watch the pair's files and apply each good change to the server's RTMPS listener; metrics follow. */
export function watchCredentials(
  server: RtmpServer,
  rtmps: RtmpsConfig,
  initial: TlsCredentials,
  logger: Logger,
  metrics: RelayMetrics,
  options: Partial<TlsWatchOptions> = {},
): TlsCredentialsWatcher {
  const watcher = new TlsCredentialsWatcher(
    rtmps,
    initial,
    (credentials) => server.setTlsCredentials(credentials),
    logger,
    options,
  );
  const expiry = (c: TlsCredentials): void => metrics.tlsCertNotAfter.set(Date.parse(c.info.notAfter) / 1000);
  expiry(initial);
  watcher.on('reloaded', (c) => {
    metrics.tlsReloads.inc({ result: 'reloaded', code: 'none' });
    expiry(c);
  });
  watcher.on('reloadFailed', (err) => metrics.tlsReloads.inc({ result: 'failed', code: err.code }));
  watcher.start();
  return watcher;
}
