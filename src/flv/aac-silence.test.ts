import { describe, expect, it } from 'vitest';
import { buildAudioSpecificConfig, parseAudioSpecificConfig, SAMPLE_RATES, type AacConfig } from './aac-config.js';
import { silentAacFrame } from './aac-silence.js';
import { BitReader } from './bit-reader.js';

const ID_NAMES = ['SCE', 'CPE', 'CCE', 'LFE', 'DSE', 'PCE', 'FIL', 'END'] as const;

function lc(sampleRate: number, channelConfig: number, frameLength960 = false): AacConfig {
  const asc = buildAudioSpecificConfig({ objectType: 2, sampleRate, channelConfig });
  // GASpecificConfig's frameLengthFlag is bit 2 of the second byte.
  if (frameLength960) asc[1] = (asc[1] as number) | 0x04;
  return parseAudioSpecificConfig(asc);
}

function frame(config: AacConfig, commonWindow?: boolean): Buffer {
  const r = silentAacFrame(config, commonWindow === undefined ? {} : { commonWindow });
  if (!r.ok) throw new Error(r.reason);
  return r.data;
}

/** ics_info of a silent stream: every field the writer fixes, read back and checked. */
function readSilentIcsInfo(r: BitReader): void {
  expect(r.flag(), 'ics_reserved_bit').toBe(false);
  expect(r.u(2), 'window_sequence').toBe(0);
  expect(r.u(1), 'window_shape').toBe(0);
  expect(r.u(6), 'max_sfb').toBe(0);
  expect(r.flag(), 'predictor_data_present').toBe(false);
}

/** individual_channel_stream with max_sfb 0: no section, scale factor or spectral data to read. */
function readSilentChannelStream(r: BitReader, commonWindow: boolean): number {
  const globalGain = r.u(8);
  if (!commonWindow) readSilentIcsInfo(r);
  expect([r.flag(), r.flag(), r.flag()], 'pulse, tns, gain control present').toEqual([false, false, false]);
  return globalGain;
}

/**
 * A tiny raw_data_block reader for silent frames (§4.4.2): the elements, in order, with
 * their tags; it fails on anything a silent frame must not hold, and checks that the
 * block ends at ID_END plus zero padding to the byte.
 */
function readSilentBlock(data: Buffer): Array<{ element: string; tag: number }> {
  const r = new BitReader(data);
  const elements: Array<{ element: string; tag: number }> = [];
  for (;;) {
    const id = r.u(3);
    const element = ID_NAMES[id] as string;
    if (element === 'END') break;
    const tag = r.u(4);
    elements.push({ element, tag });
    if (element === 'CPE') {
      const commonWindow = r.flag();
      if (commonWindow) {
        readSilentIcsInfo(r);
        expect(r.u(2), 'ms_mask_present').toBe(0);
      }
      readSilentChannelStream(r, commonWindow);
      readSilentChannelStream(r, commonWindow);
    } else if (element === 'SCE' || element === 'LFE') {
      readSilentChannelStream(r, false);
    } else {
      throw new Error(`unexpected ${element}`);
    }
  }
  const padding = r.bitsLeft;
  expect(padding, 'byte_alignment only').toBeLessThan(8);
  expect(r.u(padding), 'alignment bits').toBe(0);
  return elements;
}

describe('silent AAC frames (ISO/IEC 14496-3 §4.4.2 raw_data_block)', () => {
  it('writes mono as one SCE in 4 bytes and stereo as one CPE in 6 (common window) or 7', () => {
    for (const rate of [44100, 48000]) {
      expect(frame(lc(rate, 1)).toString('hex')).toBe('00c80007');
      expect(frame(lc(rate, 2)).toString('hex')).toBe('21000320641c');
      expect(frame(lc(rate, 2), false).toString('hex')).toBe('2064000190000e');
    }
  });

  it('reads back: the elements of Table 1.19, every stream silent, ID_END then alignment', () => {
    const expected: Record<number, string[]> = {
      1: ['SCE'],
      2: ['CPE'],
      3: ['SCE', 'CPE'],
      4: ['SCE', 'CPE', 'SCE'],
      5: ['SCE', 'CPE', 'CPE'],
      6: ['SCE', 'CPE', 'CPE', 'LFE'],
      7: ['SCE', 'CPE', 'CPE', 'CPE', 'LFE'],
    };
    const channels: Record<number, number> = { 1: 1, 2: 2, 3: 3, 4: 4, 5: 5, 6: 6, 7: 8 };
    for (let config = 1; config <= 7; config++) {
      for (const commonWindow of [true, false]) {
        const r = silentAacFrame(lc(48000, config), { commonWindow });
        if (!r.ok) throw new Error(r.reason);
        const elements = readSilentBlock(r.data);
        expect(elements.map((e) => e.element)).toEqual(expected[config]);
        expect(r.channels).toBe(channels[config]);
        expect(r.samplesPerFrame).toBe(1024);
      }
    }
    // Tags number each element type from 0: 5.1 is SCE 0, CPE 0, CPE 1, LFE 0.
    expect(readSilentBlock(frame(lc(48000, 6)))).toEqual([
      { element: 'SCE', tag: 0 },
      { element: 'CPE', tag: 0 },
      { element: 'CPE', tag: 1 },
      { element: 'LFE', tag: 0 },
    ]);
    expect(readSilentBlock(frame(lc(48000, 4))).map((e) => e.tag)).toEqual([0, 0, 1]);
  });

  it('is the same block at every sampling rate and for 960-sample frames, which it reports', () => {
    for (const rate of SAMPLE_RATES) {
      expect(frame(lc(rate, 1)).toString('hex')).toBe('00c80007');
      expect(frame(lc(rate, 2)).toString('hex')).toBe('21000320641c');
    }
    const short = silentAacFrame(lc(48000, 2, true));
    expect(short).toMatchObject({ ok: true, samplesPerFrame: 960, channels: 2 });
    expect(short.ok && short.data.toString('hex')).toBe('21000320641c');
  });

  it('writes the same syntax for AAC Main and LTP (no prediction, no LTP data)', () => {
    for (const objectType of [1, 4]) {
      const config = parseAudioSpecificConfig(
        buildAudioSpecificConfig({ objectType, sampleRate: 48000, channelConfig: 2 }),
      );
      expect(frame(config).toString('hex')).toBe('21000320641c');
    }
  });

  it('gives a fresh buffer each call', () => {
    const a = frame(lc(44100, 1));
    a.fill(0xff);
    expect(frame(lc(44100, 1)).toString('hex')).toBe('00c80007');
  });

  it('refuses HE-AAC, other object types and channel configurations it cannot write, with a reason', () => {
    const refused = (config: AacConfig, why: RegExp): void => {
      const r = silentAacFrame(config);
      expect(r.ok).toBe(false);
      if (!r.ok) expect(r.reason).toMatch(why);
    };
    // Explicit SBR (object type 5, 24 kHz core, 48 kHz output) and PS (29), as parsed from an ASC.
    refused(parseAudioSpecificConfig(Buffer.from([0x2b, 0x11, 0x88, 0x00])), /SBR/);
    refused({ ...lc(24000, 1), extensionObjectType: 29, extensionSampleRate: 48000 }, /PS/);
    refused({ ...lc(48000, 2), objectType: 3 }, /SSR/);
    for (const objectType of [5, 17, 23, 39, 42]) refused({ ...lc(48000, 2), objectType }, /object type/);
    refused(lc(48000, 0), /program_config_element/);
    for (const channelConfig of [8, 11, 15]) refused(lc(48000, channelConfig), /channelConfiguration/);
    refused({ ...lc(48000, 1), sampleRate: 0 }, /sample rate/);
  });
});
