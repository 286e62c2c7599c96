/**
 * The RTMPS credentials loader on synthetic input: the test-only pairs, each file replaced by
 * something wrong (missing, a directory, empty, garbage, truncated, the other pair's key, an
 * encrypted key, the key and certificate swapped). Every failure has its code and names the
 * file, and no error message carries key material.
 */
import { generateKeyPairSync, X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkTlsCredentials, describeCertificate, loadTlsCredentials, sameTlsCredentials } from './tls-credentials.js';
import { TlsError, TlsErrorCode, handshakeErrorCode } from './tls-errors.js';

const CERTS = resolve(import.meta.dirname, '../../test/certs');
const CERT = readFileSync(join(CERTS, 'test-only-cert.pem'));
const KEY = readFileSync(join(CERTS, 'test-only-key.pem'));
const ROTATED_CERT = readFileSync(join(CERTS, 'test-only-rotated-cert.pem'));
const ROTATED_KEY = readFileSync(join(CERTS, 'test-only-rotated-key.pem'));

const dir = mkdtempSync(join(tmpdir(), 'rinse-tls-credentials-'));

function file(name: string, content: string | Buffer): string {
  const path = join(dir, name);
  writeFileSync(path, content);
  return path;
}

/** The TlsError `fn` throws; fails the test if it throws anything else or nothing. */
function tlsErrorOf(fn: () => unknown): TlsError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(TlsError);
    return err as TlsError;
  }
  throw new Error('expected a TlsError');
}

describe('loadTlsCredentials', () => {
  it('loads a matching pair and describes the certificate without key material', () => {
    const certPath = file('good.crt', CERT);
    const keyPath = file('good.key', KEY);
    const creds = loadTlsCredentials({ certPath, keyPath });
    const x509 = new X509Certificate(CERT);
    expect(creds.cert.equals(CERT)).toBe(true);
    expect(creds.key.equals(KEY)).toBe(true);
    expect(creds.info).toEqual({
      subject: 'CN=rinse test receiver',
      fingerprint256: x509.fingerprint256,
      notBefore: new Date(x509.validFrom).toISOString(),
      notAfter: new Date(x509.validTo).toISOString(),
      subjectAltName: 'IP Address:127.0.0.1, DNS:localhost',
    });
    expect(creds.info.notAfter.startsWith('21')).toBe(true);
    expect(JSON.stringify(creds.info)).not.toContain('PRIVATE');
  });

  it('loads an ECDSA pair too, and a certificate file that holds a chain', () => {
    expect(checkTlsCredentials(ROTATED_CERT, ROTATED_KEY).info.subject).toBe('CN=rinse test rotated');
    // Leaf first, then an intermediate, as a renewal tool writes fullchain.pem.
    const chain = Buffer.concat([CERT, ROTATED_CERT]);
    expect(checkTlsCredentials(chain, KEY).info.subject).toBe('CN=rinse test receiver');
  });

  it('says which file cannot be read, by code', () => {
    const keyPath = file('ok.key', KEY);
    const missing = tlsErrorOf(() => loadTlsCredentials({ certPath: join(dir, 'none.crt'), keyPath }));
    expect(missing.code).toBe(TlsErrorCode.CERT_UNREADABLE);
    expect(missing.message).toContain('none.crt');
    expect(missing.message).toContain('ENOENT');
    const directory = tlsErrorOf(() => loadTlsCredentials({ certPath: file('ok.crt', CERT), keyPath: dir }));
    expect(directory.code).toBe(TlsErrorCode.KEY_UNREADABLE);
    expect(directory.message).toContain('EISDIR');
  });

  it.each([
    ['empty', Buffer.alloc(0)],
    ['garbage', Buffer.from('not a certificate\n')],
    ['truncated', CERT.subarray(0, CERT.length / 2)],
    ['a key', KEY],
  ])('refuses a certificate file that is %s', (_what, cert) => {
    expect(tlsErrorOf(() => checkTlsCredentials(cert, KEY)).code).toBe(TlsErrorCode.CERT_INVALID);
  });

  it.each([
    ['empty', Buffer.alloc(0)],
    ['garbage', Buffer.from('-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n')],
    ['truncated', KEY.subarray(0, KEY.length / 2)],
    ['a certificate', CERT],
  ])('refuses a key file that is %s', (_what, key) => {
    const err = tlsErrorOf(() => checkTlsCredentials(CERT, key, { keyPath: 'tls.key' }));
    expect(err.code).toBe(TlsErrorCode.KEY_INVALID);
    expect(err.message).toContain('tls.key');
  });

  it('refuses an encrypted key: nobody can type a passphrase at a restart', () => {
    const { privateKey } = generateKeyPairSync('ec', {
      namedCurve: 'P-256',
      privateKeyEncoding: { type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'secret' },
      publicKeyEncoding: { type: 'spki', format: 'pem' },
    });
    expect(tlsErrorOf(() => checkTlsCredentials(CERT, Buffer.from(privateKey))).code).toBe(TlsErrorCode.KEY_INVALID);
  });

  it("refuses a key that is not the certificate's (half a rotation), whatever its type", () => {
    const { privateKey } = generateKeyPairSync('rsa', {
      modulusLength: 1024,
      privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      publicKeyEncoding: { type: 'spki', format: 'pem' },
    });
    for (const [cert, key] of [
      [CERT, Buffer.from(privateKey)],
      [CERT, ROTATED_KEY],
      [ROTATED_CERT, KEY],
    ] as const) {
      const err = tlsErrorOf(() => checkTlsCredentials(cert, key, { certPath: 'tls.crt', keyPath: 'tls.key' }));
      expect(err.code).toBe(TlsErrorCode.KEY_MISMATCH);
      expect(err.message).toBe('tls.key is not the private key of tls.crt');
    }
  });

  it('compares pairs byte for byte', () => {
    const a = { cert: CERT, key: KEY };
    expect(sameTlsCredentials(a, { cert: Buffer.from(CERT), key: Buffer.from(KEY) })).toBe(true);
    expect(sameTlsCredentials(a, { cert: ROTATED_CERT, key: KEY })).toBe(false);
    expect(sameTlsCredentials(a, { cert: CERT, key: ROTATED_KEY })).toBe(false);
  });

  it('describes a certificate on one line', () => {
    expect(describeCertificate(new X509Certificate(ROTATED_CERT)).subject).not.toContain('\n');
  });
});

describe('handshakeErrorCode', () => {
  it('maps Node and OpenSSL errors to the stable codes', () => {
    const err = (code: string | undefined): NodeJS.ErrnoException => Object.assign(new Error('x'), { code });
    expect(handshakeErrorCode(err('ERR_TLS_HANDSHAKE_TIMEOUT'))).toBe(TlsErrorCode.HANDSHAKE_TIMEOUT);
    expect(handshakeErrorCode(err('ECONNRESET'))).toBe(TlsErrorCode.HANDSHAKE_TRUNCATED);
    expect(handshakeErrorCode(err('ERR_SSL_WRONG_VERSION_NUMBER'))).toBe(TlsErrorCode.HANDSHAKE_FAILED);
    expect(handshakeErrorCode(err(undefined))).toBe(TlsErrorCode.HANDSHAKE_FAILED);
  });
});
