/**
 * Authenticated publish end to end: `rinse serve` with RELAY_PUBLISH_SECRET (two secrets,
 * as during a rotation) takes a real FFmpeg publish (each judge's FFmpeg) of the URL that
 * `rinse/cloud`'s buildRelayUrl signs, and refuses the same URL without its token before
 * any media. The token appears nowhere: logs, /v1/streams, /metrics. Without a secret,
 * serve says at start that publish is open.
 */
import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RelayService } from '../src/cloud/index.js';
import { RtmpErrorCode } from '../src/rtmp/errors.js';
import { JUDGES } from './support/judges.js';
import { startFfmpeg, testEncode } from './support/media.js';
import { apiPortOf, startRinse, type RinseProcess } from './support/processes.js';

const SECRETS = 'relay-secret-new,relay-secret-old';
const API_TOKEN = 'api-token-for-auth-test';

describe('rinse serve with a publish secret', () => {
  let relay: RinseProcess;
  afterAll(async () => {
    await relay?.stop();
  });

  it('takes the signed URL from each FFmpeg and refuses it unsigned; the token is never shown', async () => {
    const source = await testEncode();
    const captures = mkdtempSync(join(tmpdir(), 'rinse-auth-captures-'));
    relay = await startRinse(['--api-token', API_TOKEN, '--capture-dir', captures], { RELAY_PUBLISH_SECRET: SECRETS });
    const ready = relay.lines.find((l) => l.msg === 'relay ready');
    expect(ready?.publishAuth).toBe('2 secret(s)');
    // The cloud still signs with the old secret: the relay has both during the rotation.
    const cloud = new RelayService({ relayUrls: `127.0.0.1:${relay.port}`, publishSecret: 'relay-secret-old' });
    const api = `http://127.0.0.1:${await apiPortOf(relay)}`;
    const tokens: string[] = [];
    // The cloud's user ids are email addresses: they reach the relay as they are.
    const user = 'wearer+1@example.com';
    for (const [i, judge] of JUDGES.entries()) {
      const url = cloud.buildRelayUrl(user, `auth-${i}`);
      const token = new URL(url).searchParams.get('token') ?? '';
      expect(token).not.toBe('');
      tokens.push(token);
      const publish = startFfmpeg(['-re', '-i', source, '-t', '3', '-c', 'copy', '-f', 'flv', url]);
      await relay.waitForLog(
        (l) => l.msg === 'publish started' && l.path === `live/${user}/auth-${i}`,
        `${judge.label}'s signed publish`,
      );
      const streams = await (
        await fetch(`${api}/v1/streams`, { headers: { authorization: `Bearer ${API_TOKEN}` } })
      ).text();
      expect(streams).toContain(`auth-${i}`);
      expect(streams).not.toContain(token);
      const metrics = await (
        await fetch(`${api}/metrics`, { headers: { authorization: `Bearer ${API_TOKEN}` } })
      ).text();
      expect(metrics).not.toContain(token);
      expect((await publish.done).code).toBe(0);
    }
    const unsigned = cloud.buildRelayUrl(user, 'auth-0').split('?')[0] ?? '';
    const refused = startFfmpeg(['-re', '-i', source, '-t', '3', '-c', 'copy', '-f', 'flv', unsigned]);
    const line = await relay.waitForLog((l) => l.msg === 'publish refused', 'the unsigned publish refused');
    expect(line.code).toBe(RtmpErrorCode.PUBLISH_UNAUTHORIZED);
    expect(line.reason).toBe('publish token missing');
    expect((await refused.done).code).not.toBe(0);
    expect(relay.lines.filter((l) => l.msg === 'publish started' && l.path === `live/${user}/auth-0`).length).toBe(1);
    const metrics = await (await fetch(`${api}/metrics`, { headers: { authorization: `Bearer ${API_TOKEN}` } })).text();
    expect(metrics).toMatch(/rinse_rtmp_sessions_ended_total\{code="ERR_RTMP_PUBLISH_UNAUTHORIZED"\} 1/);
    const names = readdirSync(captures);
    expect(names.length).toBe(JUDGES.length);
    for (const token of tokens) expect(names.join('\n')).not.toContain(token);
    await relay.stop();
    for (const token of tokens) expect(relay.output()).not.toContain(token);
  });

  it('says at start that publish is open when no secret is set', async () => {
    const open = await startRinse([], { RELAY_PUBLISH_SECRET: '' });
    try {
      const line = await open.waitForLog((l) => l.publishAuth === 'open' && l.level === 40, 'the open-publish notice');
      expect(String(line.msg)).toMatch(/publish is open/);
    } finally {
      await open.stop();
    }
  });
});
