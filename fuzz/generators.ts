/**
 * Generated inputs for the container and protocol parsers: built with the project's writers
 * (ChunkWriter, encodeFlv, encodeAmf0, the handshakes) from random but mostly well-formed
 * fields, or written byte by byte where the writers refuse what a hostile peer sends.
 */
import { BitWriter } from '../src/flv/bit-writer.js';
import { encodeFlv, type FlvTagInit } from '../src/flv/flv-writer.js';
import { encodeAmf0 } from '../src/media/amf0-writer.js';
import { Amf0EcmaArray, Amf0TypedObject, Amf0XmlDocument, Marker, type Amf0Value } from '../src/media/amf0.js';
import { ChunkWriter, MAX_CHUNK_STREAM_ID } from '../src/rtmp/chunk-writer.js';
import { ClientHandshake, HANDSHAKE_SIZE, ServerHandshake } from '../src/rtmp/handshake.js';
import { MessageType } from '../src/rtmp/message-types.js';
import { setChunkSizeMessage } from '../src/rtmp/control-messages.js';
import type { Rng } from './prng.js';
import { handshakeClock, handshakeRandom } from './stream-seeds.js';

/** FourCCs of enhanced RTMP video and audio, and one nobody defined. */
export const VIDEO_FOURCCS = ['avc1', 'hvc1', 'av01', 'vp09', 'vvc1', 'vp08', 'zzzz'];
export const AUDIO_FOURCCS = ['mp4a', 'Opus', 'fLaC', 'ac-3', 'ec-3', '.mp3', 'zzzz'];
/** Enhanced RTMP: the IsExHeader bit of a video tag's first byte, and SoundFormat 9 of an audio one. */
const EX_HEADER_BIT = 0x80;
const EX_AUDIO_FORMAT = 0x90;
/** VideoPacketType / AudioPacketType 7: a ModEx prefix. */
const MOD_EX = 7;
const MESSAGE_TYPES = Object.values(MessageType);

function amf0Value(rng: Rng, depth: number): Amf0Value {
  const kind = rng.below(depth > 5 ? 6 : 12);
  switch (kind) {
    case 0:
      return rng.pick([0, -0, 1.5, NaN, Infinity, -1e308, rng.u32()]);
    case 1:
      return rng.chance(0.5);
    case 2:
      return rng.bytes(rng.small(24)).toString('latin1');
    case 3:
      return null;
    case 4:
      return undefined;
    case 5:
      return new Date(rng.chance(0.5) ? rng.u32() * 1000 : NaN);
    case 6:
      return new Amf0XmlDocument(`<x a="${rng.u32()}"/>`);
    case 7:
    case 8:
      return Array.from({ length: rng.small(5) }, () => amf0Value(rng, depth + 1));
    case 9:
      return new Amf0EcmaArray(amf0Object(rng, depth));
    case 10:
      return new Amf0TypedObject(rng.chance(0.5) ? '' : 'Class', amf0Object(rng, depth));
    default:
      return amf0Object(rng, depth);
  }
}

function amf0Object(rng: Rng, depth: number): Record<string, Amf0Value> {
  const obj = Object.create(null) as Record<string, Amf0Value>;
  for (let i = rng.small(5); i > 0; i--)
    obj[rng.pick(['code', 'level', '', '__proto__', `k${i}`])] = amf0Value(rng, depth + 1);
  return obj;
}

/** Marker soup: what no encoder writes (references to anything, nesting past the limit, wild counts). */
function amf0Raw(rng: Rng): Buffer {
  const parts: Buffer[] = [];
  for (let i = 1 + rng.small(40); i > 0; i--) {
    const marker = rng.chance(0.9) ? rng.below(Marker.AVMPLUS + 1) : rng.below(256);
    parts.push(Buffer.from([marker]));
    if (marker === Marker.REFERENCE || marker === Marker.STRING) parts.push(rng.bytes(2));
    else if (marker === Marker.STRICT_ARRAY || marker === Marker.ECMA_ARRAY || marker === Marker.LONG_STRING)
      parts.push(Buffer.from([0, 0, 0, rng.small(8)]));
    else if (marker === Marker.NUMBER) parts.push(rng.bytes(8));
    else if (marker === Marker.OBJECT && rng.chance(0.5)) parts.push(Buffer.from([0, 1, 0x6b]));
  }
  return Buffer.concat(parts);
}

export function generateAmf0(rng: Rng): Buffer {
  if (rng.chance(0.4)) return amf0Raw(rng);
  return encodeAmf0(...Array.from({ length: 1 + rng.small(4) }, () => amf0Value(rng, 0)));
}

/** An FLV file of random small tags, with the header's and tags' odd-but-legal fields set. */
export function generateFlv(rng: Rng): Buffer {
  const tags: FlvTagInit[] = Array.from({ length: rng.small(12) }, () => ({
    tagType: rng.chance(0.9) ? rng.pick([8, 9, 18]) : rng.below(32),
    timestampMs: rng.chance(0.8) ? rng.small(100000) : rng.u32(),
    data: rng.bytes(rng.small(300)),
    streamId: rng.chance(0.9) ? 0 : rng.u32() & 0xffffff,
    filtered: rng.chance(0.05),
    reserved: rng.chance(0.95) ? 0 : rng.below(4),
    ...(rng.chance(0.1) ? { previousTagSize: rng.chance(0.5) ? -1 : rng.u32() } : {}),
  }));
  const padding = rng.chance(0.8) ? 0 : rng.small(64);
  return encodeFlv(
    {
      hasAudio: rng.chance(0.8),
      hasVideo: rng.chance(0.8),
      version: rng.chance(0.9) ? 1 : rng.below(256),
      flagsByte: rng.chance(0.9) ? 0 : rng.below(256),
      headerPadding: rng.bytes(padding),
      previousTagSize0: rng.chance(0.9) ? 0 : rng.u32(),
    },
    tags,
  );
}

function csid(rng: Rng): number {
  const r = rng.below(10);
  if (r < 7) return rng.range(2, 10);
  if (r < 9) return rng.range(2, 400);
  return rng.range(2, MAX_CHUNK_STREAM_ID);
}

/** A chunk stream from random messages: the writer's header compression on timestamps, types, lengths and csids it rarely sees. */
export function generateChunkStream(rng: Rng): Buffer {
  const writer = new ChunkWriter();
  const parts: Buffer[] = [];
  let timestampMs = rng.chance(0.8) ? 0 : rng.u32();
  for (let i = 1 + rng.small(30); i > 0; i--) {
    if (rng.chance(0.1)) {
      const size = rng.chance(0.5) ? rng.range(1, 300) : rng.range(1, 0x10000);
      parts.push(writer.write(2, setChunkSizeMessage(size)));
      writer.chunkSize = size;
      continue;
    }
    timestampMs = (timestampMs + (rng.chance(0.9) ? rng.small(100) : rng.u32())) >>> 0;
    const payload = rng.bytes(rng.small(rng.chance(0.9) ? 600 : 5000));
    // A small first word: what Abort, Set Chunk Size and the control messages carry.
    if (payload.length >= 4 && rng.chance(0.2)) payload.writeUInt32BE(rng.small(70), 0);
    parts.push(
      writer.write(csid(rng), {
        typeId: rng.pick(MESSAGE_TYPES),
        streamId: rng.chance(0.8) ? rng.below(3) : rng.u32(),
        timestampMs,
        payload,
      }),
    );
  }
  return Buffer.concat(parts);
}

/** C0+C1+C2 from a client whose random bytes (so digest position and keys) vary, sometimes with junk C2. */
export function generateClientHello(rng: Rng): Buffer {
  const out: Buffer[] = [];
  const client = new ClientHandshake({
    send: (b) => out.push(b),
    random: (n) => rng.bytes(n),
    nowMs: () => rng.u32(),
    mode: rng.chance(0.7) ? 'digest' : 'simple',
  });
  client.start();
  const c2 = rng.chance(0.5) ? rng.bytes(HANDSHAKE_SIZE) : Buffer.from((out[0] as Buffer).subarray(1));
  return Buffer.concat([out[0] as Buffer, c2, rng.bytes(rng.small(64))]);
}

/** S0+S1+S2 for the client target's fixed C1, from a server whose own random bytes vary. */
export function generateServerReply(rng: Rng): Buffer {
  let c0c1: Buffer = Buffer.alloc(0);
  const mode = rng.chance(0.7) ? 'digest' : 'simple';
  new ClientHandshake({ send: (b) => (c0c1 = b), random: handshakeRandom, nowMs: handshakeClock, mode }).start();
  let reply: Buffer = Buffer.alloc(0);
  new ServerHandshake({ send: (b) => (reply = b), random: (n) => rng.bytes(n), nowMs: () => rng.u32() }).push(c0c1);
  return Buffer.concat([reply, rng.bytes(rng.small(64))]);
}

/** One to four ADTS frames: header fields (§1.A.2) mostly legal, frame_length sometimes lying. */
export function generateAdts(rng: Rng): Buffer {
  const frames: Buffer[] = [];
  for (let i = 1 + rng.small(3); i > 0; i--) {
    const protectionAbsent = rng.chance(0.8);
    const payload = rng.bytes(rng.small(400));
    const header = protectionAbsent ? 7 : 9;
    const length = rng.chance(0.85) ? header + payload.length : rng.below(0x2000);
    const w = new BitWriter(9);
    w.u(12, rng.chance(0.95) ? 0xfff : rng.below(0x1000));
    w.u(1, rng.below(2)); // ID
    w.u(2, rng.chance(0.95) ? 0 : rng.below(4)); // layer
    w.flag(protectionAbsent);
    w.u(2, rng.below(4)); // profile
    w.u(4, rng.chance(0.9) ? rng.below(13) : rng.below(16));
    w.u(1, 0);
    w.u(3, rng.below(8));
    w.u(4, 0); // original/copy, home, copyright id bit and start
    w.u(13, length);
    w.u(11, 0x7ff);
    w.u(2, rng.below(4));
    if (!protectionAbsent) w.u(16, rng.below(0x10000));
    frames.push(w.toBuffer(), payload);
  }
  return Buffer.concat(frames);
}

/** An AudioSpecificConfig (ISO/IEC 14496-3 §1.6.2.1) with escapes, explicit rates and SBR/PS signalling. */
export function generateAsc(rng: Rng): Buffer {
  const w = new BitWriter(8);
  const objectType = rng.pick([1, 2, 2, 5, 29, 23, 31, 0, rng.below(32)]);
  w.u(5, objectType);
  if (objectType === 31) w.u(6, rng.below(64));
  const index = rng.chance(0.8) ? rng.below(13) : rng.pick([13, 14, 15]);
  w.u(4, index);
  if (index === 15) w.u(24, rng.below(0x1000000));
  w.u(4, rng.below(16));
  if (objectType === 5 || objectType === 29) {
    w.u(4, rng.below(16));
    w.u(5, rng.pick([2, 31, 0, rng.below(32)]));
  }
  const tail = rng.bytes(rng.small(4));
  w.copyBits(tail, 0, tail.length * 8);
  return w.toBuffer().subarray(0, rng.chance(0.9) ? undefined : rng.below(3));
}

/** ModEx prefixes (enhanced RTMP v2): a size (UI8, or UI16 after 255), its data, then the next packet type. */
function modEx(rng: Rng, last: number): Buffer {
  const parts: Buffer[] = [];
  for (let i = 1 + rng.small(2); i > 0; i--) {
    const size = rng.chance(0.8) ? rng.small(8) : rng.pick([254, 255, 300]);
    if (size >= 255) parts.push(Buffer.from([255, (size - 255) >> 8, (size - 255) & 0xff]));
    else parts.push(Buffer.from([size]));
    parts.push(rng.bytes(Math.min(size + 1, 1 + rng.small(size + 1))));
    parts.push(Buffer.from([(rng.below(16) << 4) | (i === 1 ? last : MOD_EX)]));
  }
  return Buffer.concat(parts);
}

/** A video tag body's head: legacy (CodecID, AVCPacketType, CompositionTime) or enhanced (ModEx, FourCC, multitrack, command). */
export function generateVideoHead(rng: Rng): Buffer {
  if (rng.chance(0.3)) {
    const codec = rng.chance(0.6) ? rng.pick([7, 12]) : rng.below(16);
    return Buffer.concat([Buffer.from([(rng.below(16) << 4) | codec, rng.below(4)]), rng.bytes(rng.small(12))]);
  }
  const frameType = rng.chance(0.9) ? rng.range(1, 5) : rng.below(8);
  const packetType = rng.chance(0.9) ? rng.below(8) : rng.below(16);
  const parts: Buffer[] = [Buffer.from([EX_HEADER_BIT | (frameType << 4) | packetType])];
  if (packetType === MOD_EX) parts.push(modEx(rng, rng.below(7)));
  if (rng.chance(0.2)) parts.push(Buffer.from([(rng.below(3) << 4) | rng.below(8)])); // AvMultitrackType | packet type
  parts.push(Buffer.from(rng.pick(VIDEO_FOURCCS), 'latin1'), rng.bytes(rng.small(12)));
  return Buffer.concat(parts).subarray(0, rng.chance(0.9) ? undefined : rng.below(8));
}

/** An audio tag body's head: legacy (SoundFormat, AACPacketType) or enhanced (SoundFormat 9, ModEx, FourCC, multitrack). */
export function generateAudioHead(rng: Rng): Buffer {
  if (rng.chance(0.3)) return Buffer.concat([Buffer.from([rng.u32() & 0xff, rng.below(3)]), rng.bytes(rng.small(8))]);
  const packetType = rng.chance(0.9) ? rng.pick([0, 1, 2, 4, 5, 7]) : rng.below(16);
  const parts: Buffer[] = [Buffer.from([EX_AUDIO_FORMAT | packetType])];
  if (packetType === MOD_EX) parts.push(modEx(rng, rng.pick([0, 1, 5])));
  if (rng.chance(0.2)) parts.push(Buffer.from([(rng.below(3) << 4) | rng.below(8)]));
  parts.push(Buffer.from(rng.pick(AUDIO_FOURCCS), 'latin1'), rng.bytes(rng.small(12)));
  return Buffer.concat(parts).subarray(0, rng.chance(0.9) ? undefined : rng.below(8));
}
