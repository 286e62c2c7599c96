/**
 * Certificate files laid out as a rotation leaves them, for the RTMPS reload tests: plain files
 * replaced by rename (an atomic write, as certbot and most tools do it), and a Kubernetes secret
 * volume, where `tls.crt` -> `..data/tls.crt`, `..data` -> `..<version>`, and an update writes a
 * new version directory, points a temporary symlink at it, renames that over `..data` and
 * removes the old version.
 */
import { X509Certificate } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const CERTS = resolve(import.meta.dirname, '../certs');

export interface PemPair {
  cert: Buffer;
  key: Buffer;
}

/** The committed test-only pairs (test/certs/README.md): `first` RSA, `rotated` ECDSA. */
export const TEST_PAIRS = {
  first: { cert: readFileSync(join(CERTS, 'test-only-cert.pem')), key: readFileSync(join(CERTS, 'test-only-key.pem')) },
  rotated: {
    cert: readFileSync(join(CERTS, 'test-only-rotated-cert.pem')),
    key: readFileSync(join(CERTS, 'test-only-rotated-key.pem')),
  },
} satisfies Record<string, PemPair>;

/** SHA-256 fingerprint of a PEM certificate, as TLS peers report it (`getPeerCertificate().fingerprint256`). */
export function fingerprintOf(cert: Buffer): string {
  return new X509Certificate(cert).fingerprint256;
}

export interface CertFiles {
  dir: string;
  certPath: string;
  keyPath: string;
  /** Replace both files with `pair`, the way this layout is updated. */
  replace(pair: PemPair): void;
}

/** `tls.crt` and `tls.key` as plain files, each replaced by writing a temporary file and renaming it over. */
export function plainCertFiles(pair: PemPair): CertFiles {
  const dir = mkdtempSync(join(tmpdir(), 'rinse-tls-plain-'));
  const certPath = join(dir, 'tls.crt');
  const keyPath = join(dir, 'tls.key');
  const write = (path: string, bytes: Buffer): void => {
    writeFileSync(`${path}.tmp`, bytes);
    renameSync(`${path}.tmp`, path);
  };
  const replace = (p: PemPair): void => {
    write(certPath, p.cert);
    write(keyPath, p.key);
  };
  replace(pair);
  return { dir, certPath, keyPath, replace };
}

/** A Kubernetes secret volume holding `tls.crt` and `tls.key`; `replace` is the kubelet's atomic swap. */
export function kubernetesSecretFiles(pair: PemPair): CertFiles {
  const dir = mkdtempSync(join(tmpdir(), 'rinse-tls-secret-'));
  let version = 0;
  let current: string | null = null;
  const replace = (p: PemPair): void => {
    const next = `..2026_12_02_00_00_0${++version}.${1000 + version}`;
    mkdirSync(join(dir, next));
    writeFileSync(join(dir, next, 'tls.crt'), p.cert);
    writeFileSync(join(dir, next, 'tls.key'), p.key);
    symlinkSync(next, join(dir, '..data_tmp'));
    renameSync(join(dir, '..data_tmp'), join(dir, '..data'));
    if (current !== null) rmSync(join(dir, current), { recursive: true });
    current = next;
  };
  replace(pair);
  symlinkSync('..data/tls.crt', join(dir, 'tls.crt'));
  symlinkSync('..data/tls.key', join(dir, 'tls.key'));
  return { dir, certPath: join(dir, 'tls.crt'), keyPath: join(dir, 'tls.key'), replace };
}
