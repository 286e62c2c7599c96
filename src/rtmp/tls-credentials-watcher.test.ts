/**
 * The certificate watcher on real files in a temp dir: a rename over the files and a
 * Kubernetes `..data` symlink swap are both picked up, a broken pair keeps the old one and is
 * reported with its code, an event that changed nothing applies nothing, and with no watch at
 * all (the inotify limit reached) the poll still finds the change.
 */
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { pino } from 'pino';
import { loadTlsCredentials, type TlsCredentials } from './tls-credentials.js';
import { TlsCredentialsWatcher } from './tls-credentials-watcher.js';
import type { TlsError } from './tls-errors.js';
import { TlsErrorCode } from './tls-errors.js';
import {
  TEST_PAIRS,
  fingerprintOf,
  kubernetesSecretFiles,
  plainCertFiles,
  type CertFiles,
} from '../../test/support/tls-files.js';

const fsState = vi.hoisted(() => ({ failWatch: false }));
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  return {
    ...fs,
    watch: ((...args: Parameters<typeof fs.watch>) => {
      if (fsState.failWatch)
        throw Object.assign(new Error('ENOSPC: System limit for number of file watchers reached'), { code: 'ENOSPC' });
      return fs.watch(...args);
    }) as typeof fs.watch,
  };
});

interface Harness {
  watcher: TlsCredentialsWatcher;
  applied: TlsCredentials[];
  failures: TlsError[];
  logs: Array<Record<string, unknown>>;
}

const running: TlsCredentialsWatcher[] = [];
afterEach(() => {
  for (const w of running.splice(0)) w.close();
  fsState.failWatch = false;
});

function watch(files: CertFiles, pollMs = 60_000): Harness {
  const logs: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line) logs.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  const applied: TlsCredentials[] = [];
  const failures: TlsError[] = [];
  const watcher = new TlsCredentialsWatcher(
    files,
    loadTlsCredentials(files),
    (c) => applied.push(c),
    pino({ level: 'debug' }, sink),
    { debounceMs: 50, pollMs },
  );
  watcher.on('reloadFailed', (err) => failures.push(err));
  watcher.start();
  running.push(watcher);
  return { watcher, applied, failures, logs };
}

async function until(pred: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const start = Date.now();
  while (!pred()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const ROTATED = fingerprintOf(TEST_PAIRS.rotated.cert);
const FIRST = fingerprintOf(TEST_PAIRS.first.cert);

describe('TlsCredentialsWatcher', () => {
  it.each([
    ['files renamed over', plainCertFiles],
    ['a Kubernetes ..data symlink swap', kubernetesSecretFiles],
  ])('applies a new pair after %s, once, and logs it without key material', async (_what, layout) => {
    const files = layout(TEST_PAIRS.first);
    const h = watch(files);
    files.replace(TEST_PAIRS.rotated);
    await until(() => h.applied.length > 0, 'the reload');
    await new Promise((r) => setTimeout(r, 200)); // the rest of the events of the same rotation
    expect(h.applied.map((c) => c.info.fingerprint256)).toEqual([ROTATED]);
    expect(h.watcher.credentials.info.fingerprint256).toBe(ROTATED);
    const line = h.logs.find((l) => l.msg === 'tls credentials reloaded');
    expect(line).toMatchObject({ certSubject: 'CN=rinse test rotated', certFingerprint: ROTATED, level: 30 });
    expect(String(line?.certNotAfter)).toMatch(/^2126-/);
    expect(JSON.stringify(h.logs)).not.toContain('PRIVATE KEY');
  });

  it('keeps the current pair when the new one is broken, says why by code, then takes the fixed one', async () => {
    const files = kubernetesSecretFiles(TEST_PAIRS.first);
    const h = watch(files);
    // Half a rotation: the new certificate with the old key.
    files.replace({ cert: TEST_PAIRS.rotated.cert, key: TEST_PAIRS.first.key });
    await until(() => h.failures.length > 0, 'the failure');
    expect(h.failures[0]?.code).toBe(TlsErrorCode.KEY_MISMATCH);
    expect(h.applied).toEqual([]);
    expect(h.watcher.credentials.info.fingerprint256).toBe(FIRST);
    expect(
      h.logs.find((l) => l.msg === 'tls credentials reload failed: keeping the current certificate'),
    ).toMatchObject({ level: 40, code: TlsErrorCode.KEY_MISMATCH, certFingerprint: FIRST });
    files.replace({ cert: Buffer.from('-----BEGIN CERTIFICATE-----\ngarbage\n'), key: TEST_PAIRS.first.key });
    await until(() => h.failures.length > 1, 'the second failure');
    expect(h.failures[1]?.code).toBe(TlsErrorCode.CERT_INVALID);
    files.replace(TEST_PAIRS.rotated);
    await until(() => h.applied.length > 0, 'the reload');
    expect(h.watcher.credentials.info.fingerprint256).toBe(ROTATED);
  });

  it('applies nothing when the files are rewritten with the same bytes', async () => {
    const files = plainCertFiles(TEST_PAIRS.first);
    const h = watch(files);
    files.replace(TEST_PAIRS.first);
    await new Promise((r) => setTimeout(r, 300));
    expect(h.applied).toEqual([]);
    expect(h.failures).toEqual([]);
    expect(h.watcher.reload()).toBe('unchanged');
  });

  it('keeps the pair when applying it throws (OpenSSL refused it)', () => {
    const files = plainCertFiles(TEST_PAIRS.first);
    const failures: TlsError[] = [];
    const watcher = new TlsCredentialsWatcher(
      files,
      loadTlsCredentials(files),
      () => {
        throw new Error('ee key too small');
      },
      pino({ level: 'silent' }),
    );
    watcher.on('reloadFailed', (err) => failures.push(err));
    files.replace(TEST_PAIRS.rotated);
    expect(watcher.reload()).toBe('failed');
    expect(failures.map((f) => f.code)).toEqual([TlsErrorCode.CONTEXT]);
    expect(watcher.credentials.info.fingerprint256).toBe(FIRST);
  });

  it('finds a change by polling when the directory cannot be watched', async () => {
    fsState.failWatch = true;
    const files = kubernetesSecretFiles(TEST_PAIRS.first);
    const h = watch(files, 100);
    expect(h.logs.find((l) => l.msg === 'tls watch failed: polling only')).toMatchObject({ dir: files.dir });
    files.replace(TEST_PAIRS.rotated);
    await until(() => h.applied.length > 0, 'the reload by poll');
    expect(h.watcher.credentials.info.fingerprint256).toBe(ROTATED);
  });
});
