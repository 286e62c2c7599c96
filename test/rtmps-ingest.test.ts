/**
 * RTMPS ingest with real processes on 127.0.0.1: ffmpeg publishes over rtmps:// to `rinse
 * serve --rtmps on`; the certificate is rotated under a live publish (a Kubernetes `..data`
 * symlink swap, then files renamed over) and new connections get the new one; a broken
 * certificate keeps the old one with a coded warning; a client that never completes the TLS
 * handshake is closed by the deadline, and nothing a TLS client does stops the process.
 */
import { mkdtempSync, readdirSync } from 'node:fs';
import { connect as connectTcp, createServer as createTcpServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect as connectTls } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { expectDecodes } from './support/judges.js';
import { probePackets, run, startLivePublisher, testEncode, type TestEncode, ffmpegPath } from './support/media.js';
import { BIN, apiPortOf, freePort, runProcess, startRinse, type RinseProcess } from './support/processes.js';
import {
  TEST_PAIRS,
  fingerprintOf,
  kubernetesSecretFiles,
  plainCertFiles,
  type CertFiles,
} from './support/tls-files.js';

const SHORT: TestEncode = { size: '640x360', fps: 30, seconds: 4, videoBitrate: '800k', gop: 60, preset: 'superfast' };
const LONG: TestEncode = { ...SHORT, seconds: 8 };
const FIRST = fingerprintOf(TEST_PAIRS.first.cert);
const ROTATED = fingerprintOf(TEST_PAIRS.rotated.cert);
const dir = mkdtempSync(join(tmpdir(), 'rinse-rtmps-'));

/** `rinse serve --rtmps on` on a free RTMPS port with `files`; resolves with the process and that port. */
async function startRtmps(files: CertFiles, extra: string[] = []): Promise<{ relay: RinseProcess; port: number }> {
  const port = await freePort();
  const relay = await startRinse([
    ...['--rtmps', 'on', '--rtmps-port', String(port), '--tls-cert', files.certPath, '--tls-key', files.keyPath],
    ...['--grace-ms', '300', '--recordings-dir', join(dir, 'recordings'), ...extra],
  ]);
  return { relay, port };
}

/** The SHA-256 fingerprint of the certificate a new TLS connection to `port` is served. */
function servedFingerprint(port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connectTls({ host: '127.0.0.1', port, rejectUnauthorized: false }, () => {
      resolve(socket.getPeerCertificate().fingerprint256);
      socket.destroy();
    });
    socket.on('error', reject);
    socket.setTimeout(5_000, () => socket.destroy(new Error('no TLS handshake in 5 s')));
  });
}

/** A real TLS ClientHello, as a client's first bytes (read off a TCP server that never answers). */
function clientHello(): Promise<Buffer> {
  return new Promise((resolve) => {
    const server = createTcpServer((socket) =>
      socket.once('data', (hello: Buffer) => {
        resolve(hello);
        socket.destroy();
        server.close();
      }),
    );
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      connectTls({ host: '127.0.0.1', port, rejectUnauthorized: false }).on('error', () => {});
    });
  });
}

/**
 * How long after connecting the server closed a TCP client that sends `bytes`, `perTick` bytes
 * every 200 ms (the first piece at once), ms.
 */
function closedAfter(port: number, bytes: Buffer, perTick = bytes.length): Promise<number> {
  return new Promise((resolve, reject) => {
    const start = Date.now();
    const socket = connectTcp(port, '127.0.0.1');
    let sent = 0;
    const send = (): void => {
      if (sent >= bytes.length || socket.destroyed) return;
      socket.write(bytes.subarray(sent, sent + perTick));
      sent += perTick;
    };
    socket.on('connect', send);
    const timer = setInterval(send, 200);
    const deadline = setTimeout(() => socket.destroy(new Error('still open after 10 s')), 10_000);
    socket.on('data', () => {});
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'ECONNRESET' && err.code !== 'EPIPE') reject(err);
    });
    socket.on('close', () => {
      clearInterval(timer);
      clearTimeout(deadline);
      resolve(Date.now() - start);
    });
  });
}

async function metricsText(relay: RinseProcess): Promise<string> {
  return (await fetch(`http://127.0.0.1:${await apiPortOf(relay)}/metrics`)).text();
}

describe('RTMPS ingest', () => {
  it('takes a real ffmpeg publish over rtmps:// and records it; the start log names both ports', async () => {
    const protocols = await run(ffmpegPath, ['-hide_banner', '-protocols']);
    expect(protocols.stdout, `${ffmpegPath} has no rtmps protocol`).toMatch(/^\s*rtmps$/m);
    const source = await testEncode(SHORT);
    const { relay, port } = await startRtmps(plainCertFiles(TEST_PAIRS.first), [
      '--recordings-dir',
      join(dir, 'rec-publish'),
    ]);
    try {
      const ready = relay.lines.find((l) => l.msg === 'relay ready');
      expect(ready?.listening).toMatchObject({ host: '127.0.0.1', rtmp: relay.port, rtmps: port });
      expect(ready).toMatchObject({ certSubject: 'CN=rinse test receiver', certFingerprint: FIRST });
      const publisher = startLivePublisher(source, `rtmps://127.0.0.1:${port}/live/tls/cam1`);
      const result = await publisher.done;
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      const ended = await relay.waitForLog((l) => l.msg === 'publish ended', 'the publish to end');
      expect(ended.path).toBe('live/tls/cam1');
      expect(Number(ended.frames)).toBeGreaterThanOrEqual(120 + 150);
      await relay.waitForLog((l) => l.msg === 'relay session ended', 'the relay session to end');
    } finally {
      expect(await relay.stop()).toBe(0);
    }
    const recordings = join(dir, 'rec-publish');
    const files = readdirSync(recordings).filter((f) => f.endsWith('.flv'));
    expect(files).toHaveLength(1);
    const recording = join(recordings, files[0]!);
    await expectDecodes(recording);
    expect((await probePackets(recording)).filter((p) => p.codecType === 'video')).toHaveLength(120);
  });

  it('serves a rotated certificate to new connections while a live publish goes on', async () => {
    const source = await testEncode(LONG);
    const files = kubernetesSecretFiles(TEST_PAIRS.first);
    const { relay, port } = await startRtmps(files);
    try {
      const publisher = startLivePublisher(source, `rtmps://127.0.0.1:${port}/live/tls/rotating`);
      await relay.waitForLog((l) => l.msg === 'publish started', 'the publish');
      expect(await servedFingerprint(port)).toBe(FIRST);
      files.replace(TEST_PAIRS.rotated); // the kubelet's ..data swap
      const reloaded = await relay.waitForLog((l) => l.msg === 'tls credentials reloaded', 'the reload', 10_000);
      expect(reloaded).toMatchObject({ certSubject: 'CN=rinse test rotated', certFingerprint: ROTATED });
      expect(await servedFingerprint(port)).toBe(ROTATED);
      // The publish that shook hands with the old certificate is not interrupted.
      const result = await publisher.done;
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      const ended = await relay.waitForLog((l) => l.msg === 'publish ended', 'the publish to end');
      expect(Number(ended.frames)).toBeGreaterThanOrEqual(240 + 340);
      expect(relay.lines.filter((l) => l.msg === 'tls credentials reloaded')).toHaveLength(1);
      expect(relay.output()).not.toContain('PRIVATE KEY');
    } finally {
      expect(await relay.stop()).toBe(0);
    }
  });

  it('keeps the current certificate when the new one is broken, with a coded warning and a metric', async () => {
    const files = plainCertFiles(TEST_PAIRS.first);
    const { relay, port } = await startRtmps(files);
    try {
      // The renewed certificate with the old key: half a rotation.
      files.replace({ cert: TEST_PAIRS.rotated.cert, key: TEST_PAIRS.first.key });
      const warning = await relay.waitForLog(
        (l) => l.msg === 'tls credentials reload failed: keeping the current certificate',
        'the reload warning',
        10_000,
      );
      expect(warning).toMatchObject({ level: 40, code: 'ERR_TLS_KEY_MISMATCH', certFingerprint: FIRST });
      expect(await servedFingerprint(port)).toBe(FIRST);
      expect(await metricsText(relay)).toContain(
        'rinse_tls_reloads_total{result="failed",code="ERR_TLS_KEY_MISMATCH"} 1',
      );
      files.replace(TEST_PAIRS.rotated);
      await relay.waitForLog((l) => l.msg === 'tls credentials reloaded', 'the fixed reload', 10_000);
      expect(await servedFingerprint(port)).toBe(ROTATED);
      const metrics = await metricsText(relay);
      expect(metrics).toContain('rinse_tls_reloads_total{result="reloaded",code="none"} 1');
      expect(metrics).toMatch(/^rinse_tls_cert_not_after_seconds 4\d{9}$/m);
    } finally {
      expect(await relay.stop()).toBe(0);
    }
  });

  it('closes a client that never completes the TLS handshake by the deadline, and survives bad clients', async () => {
    const { relay, port } = await startRtmps(plainCertFiles(TEST_PAIRS.first), ['--handshake-timeout-ms', '1000']);
    try {
      const hello = await clientHello();
      const [silent, trickling, plainRtmp] = await Promise.all([
        closedAfter(port, Buffer.alloc(0)),
        closedAfter(port, hello, 1), // a ClientHello a byte every 200 ms: bytes do not extend the deadline
        closedAfter(port, Buffer.alloc(1537, 3)), // an RTMP C0+C1 on the TLS port
      ]);
      expect(silent).toBeGreaterThanOrEqual(900);
      expect(silent).toBeLessThan(2_500);
      expect(trickling).toBeGreaterThanOrEqual(900);
      expect(trickling).toBeLessThan(2_500);
      expect(plainRtmp).toBeLessThan(1_000);
      await relay.waitForLog(
        (l) => l.msg === 'tls handshake failed' && l.code === 'ERR_TLS_HANDSHAKE_TIMEOUT',
        'the timeout warning',
      );
      // Still serving, and every failure counted by code.
      expect(await servedFingerprint(port)).toBe(FIRST);
      const metrics = await metricsText(relay);
      expect(metrics).toContain('rinse_tls_handshake_failures_total{code="ERR_TLS_HANDSHAKE_TIMEOUT"} 2');
      expect(metrics).toContain('rinse_tls_handshake_failures_total{code="ERR_TLS_HANDSHAKE_FAILED"} 1');
    } finally {
      expect(await relay.stop()).toBe(0);
    }
  });

  it('applies the per-address cap before the TLS handshake: a flood from one address uses its own share', async () => {
    const { relay, port } = await startRtmps(plainCertFiles(TEST_PAIRS.first), [
      ...['--handshake-timeout-ms', '1000', '--max-connections-per-address', '5'],
      ...['--max-new-connections-per-second', '0'],
    ]);
    try {
      const flood = await Promise.all(
        Array.from({ length: 20 }, async () => {
          const socket = connectTcp({ host: '127.0.0.1', port, localAddress: '127.0.0.2' });
          socket.on('error', () => {});
          await new Promise((r) => socket.once('connect', r));
          return socket;
        }),
      );
      await new Promise((r) => setTimeout(r, 300));
      // Another address still gets its TLS handshake while the flood holds its five.
      const fingerprint = await servedFingerprint(port);
      expect(fingerprint).toBe(FIRST);
      await new Promise((r) => setTimeout(r, 1500));
      const metrics = await metricsText(relay);
      expect(metrics).toContain('rinse_rtmp_connections_refused_total{code="ERR_RTMP_ADDRESS_LIMIT"} 15');
      // Only the five admitted ones started (and timed out) a handshake.
      expect(metrics).toContain('rinse_tls_handshake_failures_total{code="ERR_TLS_HANDSHAKE_TIMEOUT"} 5');
      for (const s of flood) s.destroy();
    } finally {
      expect(await relay.stop()).toBe(0);
    }
  });

  it('refuses to start without both files, or with a key that is not the certificate’s (exit 2)', async () => {
    const serve = (args: string[]) =>
      runProcess(process.execPath, [BIN, 'serve', '--host', '127.0.0.1', '--api-port', '0', ...args], 20_000);
    const good = plainCertFiles(TEST_PAIRS.first);
    const missingKey = await serve(['--rtmps', 'on', '--tls-cert', good.certPath]);
    expect(missingKey.code).toBe(2);
    expect(missingKey.stderr).toContain('rtmps is on: both --tls-cert and --tls-key');
    const mismatch = plainCertFiles({ cert: TEST_PAIRS.first.cert, key: TEST_PAIRS.rotated.key });
    const wrongKey = await serve(['--rtmps', 'on', '--tls-cert', mismatch.certPath, '--tls-key', mismatch.keyPath]);
    expect(wrongKey.code).toBe(2);
    expect(wrongKey.stderr).toContain('(ERR_TLS_KEY_MISMATCH)');
    const unreadable = await serve(['--rtmps', 'on', '--tls-cert', join(dir, 'none.crt'), '--tls-key', good.keyPath]);
    expect(unreadable.code).toBe(2);
    expect(unreadable.stderr).toContain('ENOENT (ERR_TLS_CERT_UNREADABLE)');
  });
});
