/**
 * RTMP handshake: RTMP 1.0 §5.2 (C0/C1/C2 and S0/S1/S2), plus the "complex" digest
 * handshake that Flash Player, FMS, FFmpeg, librtmp and SRS speak on top of it.
 *
 * Both sides are push state machines: the session feeds received bytes to `push()`,
 * outgoing bytes leave through the `send` callback, and once the handshake is over
 * `push()` returns the bytes that followed it (the start of the chunk stream). No
 * sockets and no timers here: the session owns the socket and the time limit.
 *
 * Digest layout: a 1536-byte C1/S1 is time(4) + version(4) + 1528 bytes. Four "offset"
 * bytes at a base (8 or 772) pick where a 32-byte HMAC-SHA256 of the rest of the packet
 * sits: pos = (b0 + b1 + b2 + b3) % 728 + base + 4. S2/C2 then end in an HMAC keyed by
 * the peer's C1/S1 digest, which proves each side read the other's packet.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { RtmpError, RtmpErrorCode } from './errors.js';

/** §5.2.2: the only plain-RTMP version; 6 (RTMPE) and others are refused. */
export const RTMP_VERSION = 3;
/** §5.2.3: C1, S1, C2 and S2 are each exactly 1536 bytes. */
export const HANDSHAKE_SIZE = 1536;

/** 'digest': the peer's C1/S1 carried a valid HMAC digest; 'simple': plain §5.2 echo. */
export type HandshakeMode = 'simple' | 'digest';

/** Bytes in a SHA-256 digest, and so in every handshake signature. */
const DIGEST_SIZE = 32;
/** A 764-byte digest block minus its 4 offset bytes and the 32 digest bytes. */
const DIGEST_OFFSET_MODULO = 728;
/** Where the 4 offset bytes sit in each scheme; 772 is tried first, as FFmpeg and SRS do. */
const DIGEST_BASES = [772, 8] as const;
/** Our C1 uses the 8-based scheme, like FFmpeg's unencrypted client. */
const CLIENT_DIGEST_BASE = 8;
/** S2/C2 carry their signature in the last 32 bytes. */
const SIGNATURE_OFFSET = HANDSHAKE_SIZE - DIGEST_SIZE;
/** C1 version bytes 128.0.7.2: non-zero tells servers to expect a digest. */
const CLIENT_VERSION = Buffer.from([0x80, 0x00, 0x07, 0x02]);
/** S1 version bytes 13.14.10.13 (any non-zero value marks a digest S1). */
const SERVER_VERSION = Buffer.from([0x0d, 0x0e, 0x0a, 0x0d]);

/** 32 bytes shared by both keys after their ASCII prefix (as in FFmpeg's rtmpproto.c). */
const KEY_TAIL = Buffer.from([
  0xf0, 0xee, 0xc2, 0x4a, 0x80, 0x68, 0xbe, 0xe8, 0x2e, 0x00, 0xd0, 0xd1, 0x02, 0x9e, 0x7e, 0x57, 0x6e, 0xec, 0x5d,
  0x2d, 0x29, 0x80, 0x6f, 0xab, 0x93, 0xb8, 0xe6, 0x36, 0xcf, 0xeb, 0x31, 0xae,
]);
/** Client (player) key, 62 bytes; the first 30 (the ASCII part) sign C1. */
const PLAYER_KEY = Buffer.concat([Buffer.from('Genuine Adobe Flash Player 001', 'latin1'), KEY_TAIL]);
const PLAYER_KEY_OPEN = PLAYER_KEY.subarray(0, 30);
/** Server key, 68 bytes; the first 36 (the ASCII part) sign S1. */
const SERVER_KEY = Buffer.concat([Buffer.from('Genuine Adobe Flash Media Server 001', 'latin1'), KEY_TAIL]);
const SERVER_KEY_OPEN = SERVER_KEY.subarray(0, 36);

type RandomSource = (n: number) => Buffer;

/** Options shared by both sides. */
interface HandshakeOptions {
  /** Writes bytes to the peer. */
  send: (bytes: Buffer) => void;
  /** Random bytes for C1/S1/C2/S2; defaults to crypto.randomBytes. */
  random?: (n: number) => Buffer;
  /** Clock for the 4-byte time field; defaults to Date.now (truncated to 32 bits). */
  nowMs?: () => number;
}

// ---------------------------------------------------------------------------
// Digest helpers

function hmac(key: Buffer, ...parts: Buffer[]): Buffer {
  const h = createHmac('sha256', key);
  for (const part of parts) h.update(part);
  return h.digest();
}

/** Digest position for a scheme: sum of the 4 offset bytes at `base`, mod 728, after them. */
function digestPos(packet: Buffer, base: number): number {
  const v = packet.readUInt32BE(base);
  const sum = (v >>> 24) + ((v >>> 16) & 0xff) + ((v >>> 8) & 0xff) + (v & 0xff);
  return (sum % DIGEST_OFFSET_MODULO) + base + 4;
}

/** HMAC of a 1536-byte packet with the 32 digest bytes at `pos` left out. */
function packetDigest(packet: Buffer, pos: number, key: Buffer): Buffer {
  return hmac(key, packet.subarray(0, pos), packet.subarray(pos + DIGEST_SIZE));
}

/** Writes the digest into `packet` using the scheme at `base`; returns the digest. */
function imprintDigest(packet: Buffer, base: number, key: Buffer): Buffer {
  const pos = digestPos(packet, base);
  const digest = packetDigest(packet, pos, key);
  digest.copy(packet, pos);
  return digest;
}

/** Finds a valid digest in a C1/S1 under either scheme. */
function findDigest(packet: Buffer, key: Buffer): { base: number; digest: Buffer } | undefined {
  for (const base of DIGEST_BASES) {
    const pos = digestPos(packet, base);
    const digest = packet.subarray(pos, pos + DIGEST_SIZE);
    if (packetDigest(packet, pos, key).equals(digest)) return { base, digest: Buffer.from(digest) };
  }
  return undefined;
}

/** Fills a 1536-byte S2/C2 with random bytes and signs it, keyed by the peer's digest. */
function writeSignedReply(out: Buffer, random: RandomSource, peerDigest: Buffer, longKey: Buffer): void {
  fillRandom(out, 0, SIGNATURE_OFFSET, random);
  replySignature(out, peerDigest, longKey).copy(out, SIGNATURE_OFFSET);
}

/** The signature an S2/C2 must end with: HMAC(HMAC(longKey, peerDigest), reply[0..1504]). */
function replySignature(reply: Buffer, peerDigest: Buffer, longKey: Buffer): Buffer {
  return hmac(hmac(longKey, peerDigest), reply.subarray(0, SIGNATURE_OFFSET));
}

function fillRandom(out: Buffer, start: number, end: number, random: RandomSource): void {
  random(end - start).copy(out, start, 0, end - start);
}

function checkVersion(version: number, what: 'C0' | 'S0'): void {
  if (version === RTMP_VERSION) return;
  const hint = version === 6 ? ' (RTMPE encryption is not supported)' : '';
  throw new RtmpError(RtmpErrorCode.HANDSHAKE_VERSION, `${what} version ${version}, expected ${RTMP_VERSION}${hint}`);
}

/** Copies from `src[offset..]` into `dst[filled..]`; returns how many bytes moved. */
function fill(dst: Buffer, filled: number, src: Buffer, offset: number): number {
  return src.copy(dst, filled, offset, Math.min(src.length, offset + dst.length - filled));
}

/** Time field value: milliseconds truncated to an unsigned 32-bit integer. */
function time32(nowMs: () => number): number {
  return Math.floor(nowMs()) >>> 0;
}

// ---------------------------------------------------------------------------
// Server

type ServerState = 'c0' | 'c1' | 'c2' | 'done';

/**
 * Server side of the handshake. Replies S0+S1+S2 in one `send()` as soon as C0+C1 are
 * in: signed (digest) when C1 carries a valid digest, else plain with S2 an exact copy
 * of C1. C2 is read but never rejected, since many real clients send junk there.
 */
export class ServerHandshake {
  private readonly send: (bytes: Buffer) => void;
  private readonly random: RandomSource;
  private readonly nowMs: () => number;
  private state: ServerState = 'c0';
  private readonly c1 = Buffer.alloc(HANDSHAKE_SIZE);
  private readonly c2 = Buffer.alloc(HANDSHAKE_SIZE);
  private filled = 0;
  private received = 0;
  private negotiated: HandshakeMode = 'simple';

  constructor(opts: HandshakeOptions) {
    this.send = opts.send;
    this.random = opts.random ?? randomBytes;
    this.nowMs = opts.nowMs ?? Date.now;
  }

  /**
   * Feed received bytes. Returns undefined while the handshake needs more, or (once C2
   * is complete) the bytes that followed C2 in `chunk` (possibly empty; a view, not a
   * copy), which belong to the chunk stream. Accepts any split of the input. Throws
   * RtmpError (HANDSHAKE_VERSION as soon as a bad C0 byte arrives). Not to be called
   * after `done`.
   */
  push(chunk: Buffer): Buffer | undefined {
    if (this.state === 'done') throw new Error('ServerHandshake.push called after the handshake completed');
    let offset = 0;
    while (offset < chunk.length) {
      if (this.state === 'c0') {
        checkVersion(chunk.readUInt8(offset), 'C0');
        offset += 1;
        this.received += 1;
        this.state = 'c1';
        continue;
      }
      const buffer = this.state === 'c1' ? this.c1 : this.c2;
      const n = fill(buffer, this.filled, chunk, offset);
      offset += n;
      this.filled += n;
      this.received += n;
      if (this.filled < HANDSHAKE_SIZE) continue;
      this.filled = 0;
      if (this.state === 'c1') {
        this.reply();
        this.state = 'c2';
      } else {
        this.state = 'done';
        return chunk.subarray(offset);
      }
    }
    return undefined;
  }

  /** True once C2 has been fully received. */
  get done(): boolean {
    return this.state === 'done';
  }

  /** 'digest' when C1 carried a valid digest (either scheme), else 'simple'. */
  get mode(): HandshakeMode {
    return this.negotiated;
  }

  /** Handshake bytes consumed so far (C0+C1+C2, at most 3073; leftover not counted). */
  get bytesReceived(): number {
    return this.received;
  }

  private reply(): void {
    const out = Buffer.alloc(1 + 2 * HANDSHAKE_SIZE);
    out[0] = RTMP_VERSION;
    const s1 = out.subarray(1, 1 + HANDSHAKE_SIZE);
    const s2 = out.subarray(1 + HANDSHAKE_SIZE);
    s1.writeUInt32BE(time32(this.nowMs), 0);
    fillRandom(s1, 8, HANDSHAKE_SIZE, this.random);

    const found = findDigest(this.c1, PLAYER_KEY_OPEN);
    if (found) {
      this.negotiated = 'digest';
      SERVER_VERSION.copy(s1, 4);
      imprintDigest(s1, found.base, SERVER_KEY_OPEN);
      writeSignedReply(s2, this.random, found.digest, SERVER_KEY);
    } else {
      // Version bytes stay zero; S2 echoes C1 exactly (some Android publishers check it).
      this.c1.copy(s2);
    }
    this.send(out);
  }
}

// ---------------------------------------------------------------------------
// Client

type ClientState = 'idle' | 's0' | 's1' | 's2' | 'done';

/** Options for {@link ClientHandshake}. */
interface ClientHandshakeOptions extends HandshakeOptions {
  /** 'digest' (default) signs C1 like Flash Player; 'simple' sends zero version bytes and no digest. */
  mode?: HandshakeMode;
}

/**
 * Client side of the handshake. `start()` sends C0+C1; after S0+S1+S2 it sends C2 and
 * `push()` returns the leftover. In 'digest' mode a server whose S1 carries a valid
 * digest must also sign S2 correctly (else HANDSHAKE_INVALID) and gets a signed C2; any
 * other server gets C2 = an exact copy of S1. In 'simple' mode no digest is checked.
 */
export class ClientHandshake {
  private readonly send: (bytes: Buffer) => void;
  private readonly random: RandomSource;
  private readonly nowMs: () => number;
  private readonly requested: HandshakeMode;
  private state: ClientState = 'idle';
  private readonly s1 = Buffer.alloc(HANDSHAKE_SIZE);
  private readonly s2 = Buffer.alloc(HANDSHAKE_SIZE);
  private filled = 0;
  private c1Digest: Buffer | undefined;
  private negotiated: HandshakeMode = 'simple';

  constructor(opts: ClientHandshakeOptions) {
    this.send = opts.send;
    this.random = opts.random ?? randomBytes;
    this.nowMs = opts.nowMs ?? Date.now;
    this.requested = opts.mode ?? 'digest';
  }

  /** Sends C0+C1 via send(). Call once, before push(). */
  start(): void {
    if (this.state !== 'idle') throw new Error('ClientHandshake.start called twice');
    const out = Buffer.alloc(1 + HANDSHAKE_SIZE);
    out[0] = RTMP_VERSION;
    const c1 = out.subarray(1);
    c1.writeUInt32BE(time32(this.nowMs), 0);
    fillRandom(c1, 8, HANDSHAKE_SIZE, this.random);
    if (this.requested === 'digest') {
      CLIENT_VERSION.copy(c1, 4);
      this.c1Digest = imprintDigest(c1, CLIENT_DIGEST_BASE, PLAYER_KEY_OPEN);
    }
    this.state = 's0';
    this.send(out);
  }

  /**
   * Feed received bytes. Returns undefined while S0/S1/S2 are incomplete; once S2 is in,
   * sends C2 and returns the bytes that followed S2 (possibly empty; a view). Throws
   * RtmpError: HANDSHAKE_VERSION for a bad S0 byte, HANDSHAKE_INVALID for a bad S2 signature.
   */
  push(chunk: Buffer): Buffer | undefined {
    if (this.state === 'idle') throw new Error('ClientHandshake.push called before start()');
    if (this.state === 'done') throw new Error('ClientHandshake.push called after the handshake completed');
    let offset = 0;
    while (offset < chunk.length) {
      if (this.state === 's0') {
        checkVersion(chunk.readUInt8(offset), 'S0');
        offset += 1;
        this.state = 's1';
        continue;
      }
      const buffer = this.state === 's1' ? this.s1 : this.s2;
      const n = fill(buffer, this.filled, chunk, offset);
      offset += n;
      this.filled += n;
      if (this.filled < HANDSHAKE_SIZE) continue;
      this.filled = 0;
      if (this.state === 's1') {
        this.state = 's2';
      } else {
        this.reply();
        this.state = 'done';
        return chunk.subarray(offset);
      }
    }
    return undefined;
  }

  /** True once S2 has been received and C2 sent. */
  get done(): boolean {
    return this.state === 'done';
  }

  /** 'digest' when the server answered with a valid S1 digest, else 'simple'. */
  get mode(): HandshakeMode {
    return this.negotiated;
  }

  private reply(): void {
    const c2 = Buffer.alloc(HANDSHAKE_SIZE);
    const found = this.c1Digest ? findDigest(this.s1, SERVER_KEY_OPEN) : undefined;
    if (this.c1Digest && found) {
      const expected = replySignature(this.s2, this.c1Digest, SERVER_KEY);
      if (!expected.equals(this.s2.subarray(SIGNATURE_OFFSET))) {
        throw new RtmpError(RtmpErrorCode.HANDSHAKE_INVALID, 'S2 signature does not match our C1 digest');
      }
      this.negotiated = 'digest';
      writeSignedReply(c2, this.random, found.digest, PLAYER_KEY);
    } else {
      this.s1.copy(c2);
    }
    this.send(c2);
  }
}
