/**
 * The RTMPS listener's certificate and key: read from their files, checked (each parses, the
 * key is the certificate's, OpenSSL builds a TLS context from the pair) and described for the
 * log without key material. The first load decides whether `rinse serve` starts; a reload
 * that fails keeps the pair in use (`tls-credentials-watcher.ts`).
 */
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { TlsError, TlsErrorCode } from './tls-errors.js';

export interface TlsCredentialPaths {
  certPath: string;
  keyPath: string;
}

/** What the log and metrics say about a certificate: public facts only. */
export interface CertificateInfo {
  /** The subject, one line ("CN=relay.example.com"). */
  subject: string;
  /** SHA-256 of the DER certificate, colon-separated hex, as `openssl x509 -fingerprint -sha256` prints it. */
  fingerprint256: string;
  /** Start and end of validity, ISO 8601. */
  notBefore: string;
  notAfter: string;
  /** Subject alternative names as OpenSSL lists them ("DNS:relay.example.com, IP Address:10.0.0.1"), or null. */
  subjectAltName: string | null;
}

/** A checked pair: the PEM bytes as read (the chain included) and the leaf certificate's facts. */
export interface TlsCredentials {
  cert: Buffer;
  key: Buffer;
  info: CertificateInfo;
}

/** Read and check both files; throws a {@link TlsError} naming the file at fault. */
export function loadTlsCredentials(paths: TlsCredentialPaths): TlsCredentials {
  const cert = readPem(paths.certPath, TlsErrorCode.CERT_UNREADABLE, 'certificate');
  const key = readPem(paths.keyPath, TlsErrorCode.KEY_UNREADABLE, 'key');
  return checkTlsCredentials(cert, key, paths);
}

/** Check a certificate (chain) and key given as PEM bytes; `paths` only name them in errors. */
export function checkTlsCredentials(cert: Buffer, key: Buffer, paths?: Partial<TlsCredentialPaths>): TlsCredentials {
  const certName = paths?.certPath ?? 'the certificate';
  const keyName = paths?.keyPath ?? 'the key';
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(cert);
  } catch (err) {
    throw new TlsError(TlsErrorCode.CERT_INVALID, `${certName}: no PEM certificate that parses (${reason(err)})`);
  }
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey(key);
  } catch (err) {
    // An encrypted key lands here too: a relay restarted by its orchestrator has no one to ask for a passphrase.
    throw new TlsError(TlsErrorCode.KEY_INVALID, `${keyName}: no unencrypted private key that parses (${reason(err)})`);
  }
  if (!x509.checkPrivateKey(privateKey))
    throw new TlsError(TlsErrorCode.KEY_MISMATCH, `${keyName} is not the private key of ${certName}`);
  try {
    createSecureContext({ cert, key });
  } catch (err) {
    throw new TlsError(TlsErrorCode.CONTEXT, `${certName} and ${keyName}: refused for TLS (${reason(err)})`);
  }
  return { cert, key, info: describeCertificate(x509) };
}

/** The log fields of a certificate. */
export function describeCertificate(x509: X509Certificate): CertificateInfo {
  return {
    subject: x509.subject.split('\n').join(', '),
    fingerprint256: x509.fingerprint256,
    notBefore: new Date(x509.validFrom).toISOString(),
    notAfter: new Date(x509.validTo).toISOString(),
    subjectAltName: x509.subjectAltName ?? null,
  };
}

/** The same pair, byte for byte (a watch event that changed nothing). */
export function sameTlsCredentials(
  a: Pick<TlsCredentials, 'cert' | 'key'>,
  b: Pick<TlsCredentials, 'cert' | 'key'>,
): boolean {
  return a.cert.equals(b.cert) && a.key.equals(b.key);
}

function readPem(path: string, code: TlsErrorCode, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new TlsError(
      code,
      `cannot read the ${what} file ${path}: ${(err as NodeJS.ErrnoException).code ?? reason(err)}`,
    );
  }
}

/** An OpenSSL error's code, or the first line of its message (never the input bytes). */
function reason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  return e.code ?? String(e.message).split('\n')[0] ?? 'unknown error';
}
