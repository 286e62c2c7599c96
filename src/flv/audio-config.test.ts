import { describe, expect, it } from 'vitest';
import { aacProfileName, buildAudioSpecificConfig, parseAudioSpecificConfig } from './aac-config.js';
import { adtsToAudioSpecificConfig, isAdts, parseAdtsHeader, stripAdts } from './adts.js';
import { MediaFormatError } from './errors.js';
import { randomBytes } from '../../test/support/split.js';

describe('AudioSpecificConfig (ISO/IEC 14496-3 §1.6.2.1)', () => {
  it('parses AAC-LC 44.1 kHz stereo (12 10) and 48 kHz mono (11 88)', () => {
    expect(parseAudioSpecificConfig(Buffer.from('1210', 'hex'))).toMatchObject({
      objectType: 2,
      sampleRate: 44100,
      sampleRateIndex: 4,
      channelConfig: 2,
      frameLengthSamples: 1024,
    });
    expect(parseAudioSpecificConfig(Buffer.from('1188', 'hex'))).toMatchObject({
      objectType: 2,
      sampleRate: 48000,
      channelConfig: 1,
    });
    expect(aacProfileName(2)).toBe('LC');
  });

  it('parses explicit HE-AAC signalling and an escaped object type', () => {
    // objectType 5 (SBR), 24 kHz core index 6, stereo, extension rate index 3 (48 kHz), then core type 2.
    const he = parseAudioSpecificConfig(Buffer.from([0x2b, 0x11, 0x88, 0x00]));
    expect(he).toMatchObject({ objectType: 2, extensionObjectType: 5, extensionSampleRate: 48000 });
    expect(aacProfileName(he.objectType, he.extensionObjectType)).toBe('HE-AAC');
  });

  it('builds the 2-byte form and round-trips it', () => {
    const asc = buildAudioSpecificConfig({ objectType: 2, sampleRate: 44100, channelConfig: 1 });
    expect(asc.toString('hex')).toBe('1208');
    expect(parseAudioSpecificConfig(asc)).toMatchObject({ objectType: 2, sampleRate: 44100, channelConfig: 1 });
  });

  it('throws AAC_CONFIG on short, reserved or garbage input, nothing else', () => {
    expect(() => parseAudioSpecificConfig(Buffer.from([0x12]))).toThrow(MediaFormatError);
    expect(() => parseAudioSpecificConfig(Buffer.from('16c0', 'hex'))).toThrow(/reserved/);
    // An explicit 24-bit sample rate cut short (found by the fuzzer under the bit reader's code).
    expect(() => parseAudioSpecificConfig(Buffer.from('1780', 'hex'))).toThrow(
      expect.objectContaining({ code: 'ERR_AAC_CONFIG' }),
    );
    for (let seed = 1; seed <= 500; seed++) {
      try {
        parseAudioSpecificConfig(randomBytes(3, seed));
      } catch (err) {
        expect(err).toMatchObject({ code: 'ERR_AAC_CONFIG' });
      }
    }
  });
});

describe('ADTS (ISO/IEC 14496-3 §1.A.2)', () => {
  // AAC-LC, 44.1 kHz, stereo, 7-byte header, 10 bytes of payload.
  const header = Buffer.from('fff15080023ffc', 'hex');
  const payload = Buffer.from('21112233445566778899', 'hex');
  const frame = Buffer.concat([header, payload]);

  it('parses the header and strips it', () => {
    expect(isAdts(frame)).toBe(true);
    expect(parseAdtsHeader(frame)).toMatchObject({
      mpegVersion: 4,
      protectionAbsent: true,
      objectType: 2,
      sampleRateIndex: 4,
      channelConfig: 2,
      frameLengthBytes: 17,
      headerBytes: 7,
    });
    const stripped = stripAdts(Buffer.concat([frame, frame]));
    expect(stripped.frames).toBe(2);
    expect(stripped.payload.toString('hex')).toBe(payload.toString('hex'));
    expect(adtsToAudioSpecificConfig(stripped.header).toString('hex')).toBe('1210');
  });

  it('rejects raw AAC and overrunning frames with ERR_ADTS', () => {
    expect(isAdts(payload)).toBe(false);
    expect(() => parseAdtsHeader(payload)).toThrow(MediaFormatError);
    expect(() => stripAdts(frame.subarray(0, 12))).toThrow(/overruns/);
  });
});
