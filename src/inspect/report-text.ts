/**
 * The person-readable form of an {@link InspectReport}: one screen, facts first, then the
 * findings with the Cloudflare rule each is judged by, then the verdict.
 */
import type { InspectReport, TrackTimestamps } from './stream-analyzer.js';

const n = (v: number | null | undefined, unit = '', digits = 2): string =>
  v === null || v === undefined ? '?' : `${Number.isInteger(v) ? v : v.toFixed(digits)}${unit}`;

function track(name: string, t: TrackTimestamps): string {
  return `${name}: ${t.count} tags, ${n(t.firstMs, ' ms')} .. ${n(t.lastMs, ' ms')}; backwards ${t.backwards}, repeats ${t.repeats}, jumps ${t.jumps}, restarts ${t.restarts}, wraps ${t.wraps}`;
}

export function formatReport(r: InspectReport): string {
  const lines: string[] = [`rinse inspect ${r.source}`];
  const v = r.video;
  const meta = r.metadata;
  if (v) {
    const declared = meta ? ` | onMetaData: ${n(meta.width as number)}x${n(meta.height as number)} ${n(meta.framerate as number, ' fps')}` : ' | no onMetaData';
    lines.push(
      `  video      ${v.codec}${v.profile ? ` ${v.profile}` : ''}${v.level ? ` ${v.level}` : ''}, ${n(v.width)}x${n(v.height)}, ${n(v.fps, ' fps')} (SPS)${v.bFrames ? ', B-frames' : ''}, ${v.frames} frames, ${v.bitrateKbps} kbit/s${declared}`,
    );
  } else {
    lines.push('  video      none');
  }
  const a = r.audio;
  lines.push(a ? `  audio      ${a.codec}${a.profile ? ` ${a.profile}` : ''}, ${n(a.sampleRate, ' Hz')}, ${n(a.channels)} ch, ${a.frames} frames, ${a.bitrateKbps} kbit/s` : '  audio      none');
  for (const m of r.metadataMismatches) lines.push(`             metadata mismatch: ${m}`);
  lines.push(`  length     ${(r.durationMs / 1000).toFixed(2)} s, ${r.bitrateKbps} kbit/s in all`);
  lines.push(
    `  gop        ${r.gop.keyframes} keyframes; interval min ${n(r.gop.minS, ' s')}, median ${n(r.gop.medianS, ' s')}, max ${n(r.gop.maxS, ' s')}${r.gop.allIntra ? '; ALL-INTRA' : ''}; flags disagreeing with NAL types: ${r.gop.flagMismatches}`,
  );
  lines.push(`  timestamps ${track('video', r.timestamps.video)}`);
  lines.push(`             ${track('audio', r.timestamps.audio)}`);
  lines.push(
    `  a/v        ${r.avSync.outOfOrder} tags out of order across tracks (max ${r.avSync.maxBackstepMs} ms); audio drift ${n(r.avSync.driftMs, ' ms', 1)} (${n(r.avSync.driftPercent, '%', 3)}); audio starts ${n(r.avSync.startSkewMs, ' ms')} after video`,
  );
  lines.push(`  cadence    median frame interval ${n(r.cadence.medianIntervalMs, ' ms')}, irregular share ${n(r.cadence.irregularShare)}`);
  lines.push(`  framing    AVCC ${r.framing.avcc}, Annex-B ${r.framing.annexb}, mixed ${r.framing.mixed}; ADTS audio frames ${r.framing.adts}`);
  const sh = r.sequenceHeaders;
  lines.push(
    `  headers    AVC ${sh.video.count}${sh.video.beforeFirstFrame ? ' (before first frame)' : ''}${sh.video.inBandOnly ? ' (SPS/PPS in band only)' : ''}, changes ${sh.video.changes}; AAC ${sh.audio.count}${sh.audio.beforeFirstFrame ? ' (before first frame)' : ''}`,
  );
  if (r.tags.unparsed > 0) lines.push(`  unparsed   ${r.tags.unparsed} tags could not be parsed`);
  lines.push('');
  if (r.verdict.reasons.length === 0) {
    lines.push('findings   none');
  } else {
    lines.push('findings');
    const width = Math.max(...r.verdict.reasons.map((x) => x.kind.length));
    for (const reason of r.verdict.reasons) {
      lines.push(`  ${reason.severity === 'reject' ? 'REJECT' : 'warn  '} ${reason.kind.padEnd(width)}  ${reason.detail}`);
      lines.push(`         ${' '.repeat(width)}  rule: ${reason.rule}`);
    }
  }
  if (r.repairs) {
    const kinds = Object.entries(r.repairs);
    lines.push('');
    if (kinds.length === 0) {
      lines.push('rinse fix  would change nothing');
    } else {
      lines.push('rinse fix  would repair:');
      const width = Math.max(...kinds.map(([k]) => k.length));
      for (const [kind, v] of kinds) lines.push(`  ${kind.padEnd(width)}  ${String(v?.count).padStart(6)}x  (largest ${v?.maxAmount})`);
    }
    if (r.needsTranscode) lines.push(`  and still NEEDS A TRANSCODE: ${r.needsTranscode.reason} (${r.needsTranscode.detail})`);
  }
  const rejects = r.verdict.reasons.filter((x) => x.severity === 'reject').length;
  const warns = r.verdict.reasons.length - rejects;
  lines.push('');
  lines.push(
    r.verdict.accept
      ? `verdict    ACCEPT: Cloudflare Stream Live should take this stream${warns ? ` (${warns} warning${warns > 1 ? 's' : ''})` : ''}`
      : `verdict    REJECT: ${rejects} reason${rejects > 1 ? 's' : ''} Cloudflare Stream Live would refuse or fail this stream${warns ? `, ${warns} warning${warns > 1 ? 's' : ''}` : ''}`,
  );
  return `${lines.join('\n')}\n`;
}
