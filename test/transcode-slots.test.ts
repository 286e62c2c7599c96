/**
 * Hostile streams cannot keep the transcoder slots from a real stream that needs one.
 *
 * Against a real `rinse serve` (two slots, the default 5 s wait), four hostile publishers
 * send a clean fixture with every audio tag flipped from AAC to PCM, a codec Cloudflare
 * refuses, so each of their streams asks for a transcode; they reconnect again and again
 * within the grace period, as in the attack that found this. Two share one account and stay
 * connected long enough to be served one slot between them; two drive-by accounts reconnect
 * every 2 s and never stream long enough to get one. A real stream (keyframes 30 s apart,
 * `rinse replay` in real time) then needs a transcode and gets the other slot.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readFlv } from '../src/flv/flv-reader.js';
import { TAG_AUDIO, TAG_VIDEO } from '../src/media/tag-kinds.js';
import { RtmpClient } from '../src/rtmp/client.js';
import { useFixtures } from './support/fixtures.js';
import { runReplay, startRinse } from './support/processes.js';

const fixture = useFixtures();
const dir = mkdtempSync(join(tmpdir(), 'rinse-slots-'));
/** FLV audio tag byte: sound format 3 (linear PCM, little endian), 44 kHz, 16-bit, stereo. */
const PCM_TAG_BYTE = 0x3f;

interface Hostile {
  path: string;
  connectionMs: number;
}

/**
 * Publish `file` in real time with its audio flipped to PCM, `connectionMs` per connection,
 * reconnecting 200 ms after each close, until `untilMs` (epoch). Counts its connections.
 */
async function hostilePublisher(url: string, file: string, connectionMs: number, untilMs: number): Promise<number> {
  const tags = readFlv(readFileSync(file)).tags.filter((t) => t.tagType === TAG_AUDIO || t.tagType === TAG_VIDEO);
  let connections = 0;
  while (Date.now() < untilMs) {
    const client = await RtmpClient.connect(url);
    await client.publish();
    connections++;
    const startMs = Date.now();
    const endMs = Math.min(untilMs, startMs + connectionMs);
    for (const tag of tags) {
      const dueMs = startMs + tag.timestampMs;
      if (dueMs >= endMs) break;
      if (dueMs > Date.now()) await new Promise((r) => setTimeout(r, dueMs - Date.now()));
      let data = tag.data;
      if (tag.tagType === TAG_AUDIO) {
        data = Buffer.from(tag.data);
        data[0] = PCM_TAG_BYTE;
      }
      client.sendMedia(tag.tagType === TAG_AUDIO ? 'audio' : 'video', tag.timestampMs, data);
    }
    await client.close();
    await new Promise((r) => setTimeout(r, 200));
  }
  return connections;
}

describe('transcode slots under hostile streams', () => {
  it('four codec-flipping streams, reconnecting, cannot keep the slots from a real stream that needs one', async () => {
    const relay = await startRinse([
      '--max-transcodes',
      '2',
      '--grace-ms',
      '3000',
      '--recordings-dir',
      join(dir, 'recordings'),
    ]);
    const hostiles: Hostile[] = [
      { path: 'live/attacker/h1', connectionMs: 7000 },
      { path: 'live/attacker/h2', connectionMs: 7000 },
      { path: 'live/driveby-1/h3', connectionMs: 2000 },
      { path: 'live/driveby-2/h4', connectionMs: 2000 },
    ];
    const base = `rtmp://127.0.0.1:${relay.port}`;
    try {
      const untilMs = Date.now() + 24_000;
      const attack = Promise.all(
        hostiles.map((h) =>
          hostilePublisher(`${base}/${h.path}`, fixture('clean-540x960-14'), h.connectionMs, untilMs),
        ),
      );
      // The attack is under way (the attacker's slot taken) before the real stream starts.
      await relay.waitForLog(
        (l) => l.msg === 'stream mode: transcode' && l.userId === 'attacker',
        "the attacker's first transcode",
        20_000,
      );
      const real = await runReplay(fixture('long-gop-30s'), `${base}/live/real-user/broadcast`, 1);
      expect(real.code).toBe(0);
      const connections = await attack;
      expect(Math.min(...connections)).toBeGreaterThanOrEqual(3);
    } finally {
      await relay.stop();
    }
    const lines = relay.lines;
    const of = (msg: string, userId: string): Array<Record<string, unknown>> =>
      lines.filter((l) => l.msg === msg && l.userId === userId);
    // The real stream was transcoded, and its reason was its own.
    const realSwitch = of('stream mode: transcode', 'real-user');
    expect(realSwitch.length).toBeGreaterThanOrEqual(1);
    expect(String(realSwitch[0]?.reason)).toMatch(/^gop-too-long/);
    // The drive-by streams never streamed 5 s: never a slot.
    for (const u of ['driveby-1', 'driveby-2']) {
      expect(of('stream mode: transcode', u)).toEqual([]);
      expect(of('transcode waiting: relaying remuxed until a slot may be taken', u)[0]?.cause).toBe(
        'publisher too new',
      );
    }
    // The attacker's account held at most one slot at a time, and gave it back at each leave.
    const waits = of('transcode waiting: relaying remuxed until a slot may be taken', 'attacker');
    expect(waits.some((l) => l.cause === 'user holds a slot')).toBe(true);
    expect(of('publisher left: transcode stopped, slot given back', 'attacker').length).toBeGreaterThanOrEqual(1);
    let held = 0;
    let maxHeld = 0;
    for (const l of lines) {
      if (l.userId !== 'attacker') continue;
      if (l.msg === 'stream mode: transcode') held++;
      if (l.msg === 'publisher left: transcode stopped, slot given back') held--;
      maxHeld = Math.max(maxHeld, held);
    }
    expect(maxHeld).toBe(1);
    process.stdout.write(
      `hostile slots: attacker transcodes ${of('stream mode: transcode', 'attacker').length} (never 2 at once), ` +
        `drive-by 0, real stream transcoded after ${String(realSwitch[0]?.reason)}\n`,
    );
  });
});
