/**
 * Generated H.264 inputs: SPS, PPS and slice headers written field by field with the
 * project's BitWriter (ITU-T H.264 §7.3.2.1.1, §7.3.2.2, §7.3.3), every field usually in its
 * legal range and sometimes just outside it, so the parsers' deep branches (scaling lists,
 * POC type 1 cycles, VUI, HRD) are reached more often than flipped bits of a real SPS reach them.
 */
import { BitWriter, rbspToNal } from '../src/flv/bit-writer.js';
import { joinAvcc } from '../src/flv/nal-units.js';
import type { Rng } from './prng.js';

/** profile_idc values: the plain ones, every high profile the SPS syntax singles out, and a stray. */
const PROFILES = [66, 77, 88, 100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135, 1];
const LEVELS = [9, 10, 11, 13, 20, 21, 30, 31, 32, 40, 41, 42, 50, 51, 52, 62, 255];
/** ue(v) values past every range check: the codes a hostile stream would use. */
const HUGE_UE = [2 ** 16, 2 ** 31 - 1, 2 ** 32 - 2];
/** NAL header bytes: nal_ref_idc 0..3 with the type, and a forbidden_zero_bit set. */
const NAL_REF_IDC = [0x00, 0x20, 0x40, 0x60, 0x80];

/** A ue(v) value: mostly below `typical`, sometimes just above, rarely huge. */
function ue(rng: Rng, typical: number): number {
  const r = rng.below(20);
  if (r < 17) return rng.small(typical);
  if (r < 19) return typical + rng.small(4);
  return rng.pick(HUGE_UE);
}

function se(rng: Rng, typical: number): number {
  const v = ue(rng, typical);
  return rng.chance(0.5) ? Math.ceil(v / 2) : -Math.floor(v / 2);
}

/** NAL unit bytes: header, escaped RBSP with its stop bit, sometimes cut short. */
function nal(rng: Rng, type: number, w: BitWriter): Buffer {
  if (rng.chance(0.9)) {
    w.u(1, 1); // rbsp_stop_one_bit
    w.alignWith(false);
  }
  const payload = rbspToNal(w.toBuffer());
  const out = Buffer.concat([Buffer.from([rng.pick(NAL_REF_IDC) | type]), payload]);
  return rng.chance(0.1) ? out.subarray(0, rng.below(out.length + 1)) : out;
}

function scalingLists(rng: Rng, w: BitWriter, lists: number): void {
  for (let i = 0; i < lists; i++) {
    const present = rng.chance(0.3);
    w.flag(present);
    if (!present) continue;
    const size = i < 6 ? 16 : 64;
    for (let j = 0; j < size; j++) w.se(rng.chance(0.9) ? rng.range(-8, 8) : rng.range(-128, 127));
  }
}

function hrd(rng: Rng, w: BitWriter): void {
  const cpbCount = ue(rng, 3);
  w.ue(cpbCount);
  w.u(8, rng.u32() & 0xff);
  for (let i = 0; i <= Math.min(cpbCount, 40); i++) {
    w.ue(ue(rng, 1000));
    w.ue(ue(rng, 1000));
    w.flag(rng.chance(0.5));
  }
  w.u(20, rng.u32() & 0xfffff);
}

function vui(rng: Rng, w: BitWriter): void {
  const aspect = rng.chance(0.5);
  w.flag(aspect);
  if (aspect) {
    const idc = rng.chance(0.3) ? 255 : rng.below(256);
    w.u(8, idc);
    if (idc === 255) w.u(32, rng.u32());
  }
  for (let i = 0; i < 3; i++) w.flag(rng.chance(0.2)); // overscan, video signal, chroma loc: absent mostly
  const timing = rng.chance(0.7);
  w.flag(timing);
  if (timing) {
    w.u(32, rng.chance(0.1) ? 0 : rng.range(1, 1001));
    w.u(32, rng.chance(0.1) ? rng.u32() : rng.pick([30, 50, 60, 2997 * 20, 120000]));
    w.flag(rng.chance(0.5));
  }
  const nalHrd = rng.chance(0.3);
  w.flag(nalHrd);
  if (nalHrd) hrd(rng, w);
  const vclHrd = rng.chance(0.2);
  w.flag(vclHrd);
  if (vclHrd) hrd(rng, w);
  if (nalHrd || vclHrd) w.flag(rng.chance(0.5));
  w.flag(rng.chance(0.5)); // pic_struct_present_flag
  const restriction = rng.chance(0.6);
  w.flag(restriction);
  if (restriction) {
    w.flag(true);
    for (let i = 0; i < 6; i++) w.ue(ue(rng, 16));
  }
}

/** The fields after seq_parameter_set_id that only the high profiles carry. */
function chromaFields(rng: Rng, w: BitWriter): void {
  const chroma = ue(rng, 3);
  w.ue(chroma);
  if (chroma === 3) w.flag(rng.chance(0.5));
  w.ue(ue(rng, 6));
  w.ue(ue(rng, 6));
  w.flag(rng.chance(0.1));
  const matrices = rng.chance(0.3);
  w.flag(matrices);
  if (matrices) scalingLists(rng, w, chroma === 3 ? 12 : 8);
}

function picOrderCnt(rng: Rng, w: BitWriter): void {
  const type = rng.chance(0.9) ? rng.below(3) : ue(rng, 3);
  w.ue(type);
  if (type === 0) w.ue(ue(rng, 12));
  else if (type === 1) {
    w.flag(rng.chance(0.5));
    w.se(se(rng, 100));
    w.se(se(rng, 100));
    const cycle = ue(rng, 8);
    w.ue(cycle);
    for (let i = 0; i < Math.min(cycle, 300); i++) w.se(se(rng, 100));
  }
}

export function generateSps(rng: Rng): Buffer {
  const w = new BitWriter(64);
  const profile = rng.pick(PROFILES);
  w.u(8, profile);
  w.u(8, rng.u32() & 0xff);
  w.u(8, rng.pick(LEVELS));
  w.ue(ue(rng, 31));
  if ([100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135].includes(profile)) chromaFields(rng, w);
  w.ue(ue(rng, 12));
  picOrderCnt(rng, w);
  w.ue(ue(rng, 16));
  w.flag(rng.chance(0.1));
  w.ue(ue(rng, 120)); // pic_width_in_mbs_minus1
  w.ue(ue(rng, 68));
  const frameMbsOnly = rng.chance(0.8);
  w.flag(frameMbsOnly);
  if (!frameMbsOnly) w.flag(rng.chance(0.5));
  w.flag(rng.chance(0.8));
  const crop = rng.chance(0.5);
  w.flag(crop);
  if (crop) for (let i = 0; i < 4; i++) w.ue(ue(rng, 8));
  const withVui = rng.chance(0.7);
  w.flag(withVui);
  if (withVui) vui(rng, w);
  return nal(rng, 7, w);
}

export function generatePps(rng: Rng): Buffer {
  const w = new BitWriter(32);
  w.ue(ue(rng, 255));
  w.ue(ue(rng, 31));
  w.flag(rng.chance(0.5));
  w.flag(rng.chance(0.2));
  w.ue(rng.chance(0.85) ? 0 : ue(rng, 7));
  if (rng.chance(0.9)) {
    w.ue(ue(rng, 31));
    w.ue(ue(rng, 31));
    w.flag(rng.chance(0.3));
    w.u(2, rng.below(4));
    for (let i = 0; i < 3; i++) w.se(se(rng, 26));
    for (let i = 0; i < 3; i++) w.flag(rng.chance(0.5));
  }
  return nal(rng, 8, w);
}

/** A slice NAL unit: the header fields (first_mb, slice_type, PPS id) then arbitrary bits. */
export function generateSlice(rng: Rng): Buffer {
  const w = new BitWriter(64);
  w.ue(ue(rng, 3600));
  w.ue(rng.chance(0.9) ? rng.below(10) : ue(rng, 12));
  w.ue(rng.chance(0.9) ? rng.below(2) : ue(rng, 255));
  const rest = rng.bytes(1 + rng.small(48));
  w.copyBits(rest, 0, rest.length * 8 - rng.below(8));
  return nal(rng, rng.chance(0.9) ? rng.pick([1, 5]) : rng.below(32), w);
}

function parameterSetList(rng: Rng, make: (rng: Rng) => Buffer, lying: boolean): Buffer {
  const sets = Array.from({ length: rng.small(3) }, () => make(rng));
  const parts: Buffer[] = [Buffer.from([lying ? rng.u32() & 0xff : sets.length])];
  for (const set of sets) {
    const length = Buffer.allocUnsafe(2);
    length.writeUInt16BE(lying && rng.chance(0.3) ? rng.below(0x10000) : set.length);
    parts.push(length, set);
  }
  return Buffer.concat(parts);
}

/** An AVCDecoderConfigurationRecord of generated parameter sets, its counts and lengths sometimes lying. */
export function generateAvcConfig(rng: Rng): Buffer {
  const lying = rng.chance(0.3);
  const sps = parameterSetList(rng, generateSps, lying);
  sps[0] = 0xe0 | ((sps[0] as number) & 0x1f);
  const head = Buffer.from([rng.chance(0.95) ? 1 : rng.below(256), rng.pick(PROFILES), 0, rng.pick(LEVELS)]);
  const lengthSize = Buffer.from([0xfc | rng.below(4)]);
  const parts = [head, lengthSize, sps, parameterSetList(rng, generatePps, lying)];
  if (rng.chance(0.4)) parts.push(Buffer.from([0xfc | rng.below(4), 0xf8 | rng.below(8), 0xf8 | rng.below(8)]));
  if (rng.chance(0.3)) parts.push(parameterSetList(rng, (r) => r.bytes(1 + r.small(16)), lying));
  return Buffer.concat(parts);
}

/** A video payload in AVCC, Annex B or the glasses' mixed framing, of generated NAL units. */
export function generateNalPayload(rng: Rng): Buffer {
  const nals = Array.from({ length: 1 + rng.small(5) }, () =>
    rng.pick([generateSps, generatePps, generateSlice, (r: Rng) => r.bytes(1 + r.small(64))])(rng),
  );
  const framing = rng.below(3);
  // 2- and 4-byte lengths: a 1-byte one cannot hold every generated unit.
  if (framing === 0) return joinAvcc(nals, rng.chance(0.8) ? 4 : 2);
  const startCode = (): Buffer => Buffer.from(rng.chance(0.5) ? [0, 0, 1] : [0, 0, 0, 1]);
  const annexB = Buffer.concat(nals.flatMap((n) => [startCode(), n]));
  return framing === 1 ? annexB : joinAvcc([annexB.subarray(rng.chance(0.5) ? 3 : 0)], 4);
}
