/**
 * An upstream host that does not resolve, then does: the relay keeps retrying through the
 * real resolver and publishes as soon as the name resolves. rinse runs in a mount namespace
 * of its own whose /etc/hosts is a file the test owns (glibc reads it on every lookup), so
 * the name starts to resolve when the test adds its line; nothing on the machine changes.
 * Skipped, with the reason, where a mount namespace cannot be made (unshare -rm).
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startFfmpeg, testEncode } from './support/media.js';
import { TEST_STREAM_KEY, expectReceiverClean, freePort, startReceiver, startRinse } from './support/processes.js';

const dir = mkdtempSync(join(tmpdir(), 'rinse-dns-'));
const HOST = 'rinse-upstream-dns-test';

/** Why a private /etc/hosts cannot be had here, or null when it can. */
function namespaceUnavailable(): string | null {
  const probe = join(dir, 'probe-hosts');
  copyFileSync('/etc/hosts', probe);
  const r = spawnSync('unshare', ['-rm', 'sh', '-c', 'mount --bind "$0" /etc/hosts', probe], { encoding: 'utf8' });
  if (r.error) return `unshare is not available (${r.error.message})`;
  return r.status === 0 ? null : `cannot make a mount namespace: ${r.stderr.trim() || `exit ${r.status}`}`;
}

const unavailable = namespaceUnavailable();
if (unavailable) process.stdout.write(`upstream-dns: skipped: ${unavailable}\n`);

describe.skipIf(unavailable !== null)('an upstream host that resolves again', () => {
  it('retries through ENOTFOUND and publishes within a second of the name resolving', async () => {
    const source = await testEncode({
      size: '640x360',
      fps: 30,
      seconds: 20,
      videoBitrate: '800k',
      gop: 60,
      preset: 'superfast',
    });
    const hosts = join(dir, 'hosts');
    copyFileSync('/etc/hosts', hosts);
    const port = await freePort();
    const receiver = startReceiver(join(dir, 'dns.flv'), port);
    const relay = await startRinse(
      ['--target', `rtmp://${HOST}:${port}/live/${TEST_STREAM_KEY}`, '--grace-ms', '300'],
      {},
      120_000,
      (command) => ['unshare', '-rm', 'sh', '-c', 'mount --bind "$0" /etc/hosts && exec "$@"', hosts, ...command],
    );
    let resolvedAt = 0;
    try {
      const publisher = startFfmpeg(
        [
          '-loglevel',
          'error',
          '-re',
          '-i',
          source,
          '-c',
          'copy',
          '-f',
          'flv',
          `rtmp://127.0.0.1:${relay.port}/live/glasses/dns`,
        ],
        60_000,
      );
      await relay.waitForLog(
        (l) => l.msg === 'upstream down: reconnecting' && l.code === 'ENOTFOUND',
        'a failed lookup',
      );
      await new Promise((r) => setTimeout(r, 5000));
      // Written in place: the bind mount follows the inode.
      appendFileSync(hosts, `127.0.0.1 ${HOST}\n`);
      resolvedAt = Date.now();
      const up = await relay.waitForLog((l) => l.msg === 'upstream publishing', 'publishing after the name resolves');
      const afterMs = Number(up.time) - resolvedAt;
      const failures = relay.lines.filter((l) => l.msg === 'upstream down: reconnecting').length;
      process.stdout.write(
        `dns back: ${failures} failed lookups, then publishing ${afterMs} ms after the name resolved\n`,
      );
      expect(afterMs).toBeLessThan(1500);
      expect((await publisher.done).code).toBe(0);
      expectReceiverClean(await receiver.done);
    } finally {
      receiver.kill();
      await relay.stop();
    }
  }, 120_000);
});
