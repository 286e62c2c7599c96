/**
 * The person-readable form of an {@link InspectReport}: the verdict on top, one line per
 * broken contract rule (whether Cloudflare would reject it), then the measured facts.
 */
import type { InspectReport, TrackTimestamps } from './report-types.js';

const n = (v: number | null | undefined, unit = '', digits = 2): string =>
  v === null || v === undefined ? '?' : `${Number.isInteger(v) ? v : v.toFixed(digits)}${unit}`;

function track(name: string, t: TrackTimestamps): string {
  return `${name}: ${t.count} frames, ${n(t.firstMs, ' ms')} .. ${n(t.lastMs, ' ms')}; backwards ${t.backwards}, repeats ${t.repeats}, jumps ${t.jumps}, restarts ${t.restarts}, wraps ${t.wraps}`;
}

/** The verdict in one line (the text report's and the HTML page's). */
export function verdictSummary(r: InspectReport): string {
  if (r.verdict.clean) return 'CLEAN: no contract rule broken; rinse would send this stream untouched';
  const broken = r.findings.length;
  const rejects = r.findings.filter((f) => f.cloudflareMust).length;
  return `NOT CLEAN: ${broken} contract rule${broken > 1 ? 's' : ''} broken, ${rejects ? `${rejects} of them Cloudflare would reject` : 'none Cloudflare would reject (rinse repairs them)'}`;
}

function verdictLines(r: InspectReport): string[] {
  const lines = [`rinse inspect ${r.source}`, `verdict    ${verdictSummary(r)}`];
  const broken = r.findings.length;
  if (broken) {
    const width = Math.max(...r.findings.map((f) => f.rule.length));
    for (const f of r.findings) {
      const where = f.firstAtMs === null ? '' : `, first at ${f.firstAtMs} ms`;
      lines.push(
        `  ${f.cloudflareMust ? 'REJECT' : 'repair'} ${f.rule.padEnd(width)}  ${f.count}x${where}: ${f.detail}`,
      );
      lines.push(
        `         ${' '.repeat(width)}  ${f.cloudflareMust ? 'Cloudflare would reject it' : 'not a Cloudflare MUST; rinse repairs it (or transcodes)'}; causes: ${f.causes.map((c) => c.kind).join(', ') || '-'}`,
      );
    }
  }
  for (const note of r.notes) lines.push(`  note   ${note.kind}: ${note.detail}`);
  lines.push(`  not judged from one input: ${r.verdict.notJudged.join(', ')}`);
  return lines;
}

function factLines(r: InspectReport): string[] {
  const lines: string[] = [];
  const v = r.video;
  const meta = r.metadata;
  if (v) {
    const declared = meta
      ? ` | onMetaData: ${n(meta.width as number)}x${n(meta.height as number)} ${n(meta.framerate as number, ' fps')}`
      : ' | no onMetaData';
    lines.push(
      `  video      ${v.codec}${v.profile ? ` ${v.profile}` : ''}${v.level ? ` ${v.level}` : ''}, ${n(v.width)}x${n(v.height)}, ${n(v.fps, ' fps')} (SPS)${v.bFrames ? ', B-frames' : ''}, ${v.frames} frames, ${v.bitrateKbps} kbit/s${declared}`,
    );
  } else {
    lines.push('  video      none');
  }
  const a = r.audio;
  lines.push(
    a
      ? `  audio      ${a.codec}${a.profile ? ` ${a.profile}` : ''}, ${n(a.sampleRate, ' Hz')}, ${n(a.channels)} ch, ${a.frames} frames, ${a.bitrateKbps} kbit/s`
      : '  audio      none',
  );
  lines.push(`  length     ${(r.durationMs / 1000).toFixed(2)} s, ${r.bitrateKbps} kbit/s in all`);
  lines.push(
    `  gop        ${r.gop.keyframes} keyframes; interval min ${n(r.gop.minS, ' s')}, median ${n(r.gop.medianS, ' s')}, max ${n(r.gop.maxS, ' s')}${r.gop.allIntra ? '; ALL-INTRA' : ''}; flags disagreeing with NAL types: ${r.gop.flagMismatches}`,
  );
  lines.push(`  timestamps ${track('video', r.timestamps.video)}`);
  lines.push(`             ${track('audio', r.timestamps.audio)}`);
  const s = r.avSync;
  lines.push(
    `  a/v        skew up to ${s.maxSkewMs} ms in arrival order, ${s.outOfOrder} tags older than the other track's last; audio drift ${n(s.driftMs, ' ms', 1)} (${n(s.driftPercent, '%', 3)}); audio starts ${n(s.startSkewMs, ' ms')} after video`,
  );
  lines.push(
    `  cadence    median frame interval ${n(r.cadence.medianIntervalMs, ' ms')}, p95 jitter against the local median ${n(r.cadence.p95DeviationMs, ' ms')}`,
  );
  lines.push(
    `  framing    AVCC ${r.framing.avcc}, Annex-B ${r.framing.annexb}, mixed ${r.framing.mixed}; ADTS audio frames ${r.framing.adts}`,
  );
  const sh = r.sequenceHeaders;
  lines.push(
    `  headers    AVC ${sh.video.count}${sh.video.beforeFirstFrame ? ' (before first frame)' : ''}${sh.video.inBandOnly ? ' (SPS/PPS in band only)' : ''}, changes ${sh.video.changes}; AAC ${sh.audio.count}${sh.audio.beforeFirstFrame ? ' (before first frame)' : ''}`,
  );
  if (r.tags.unparsed > 0) lines.push(`  unparsed   ${r.tags.unparsed} tags could not be parsed`);
  return lines;
}

function repairLines(r: InspectReport): string[] {
  if (!r.repairs) return [];
  const kinds = Object.entries(r.repairs);
  const lines = [''];
  if (kinds.length === 0) {
    lines.push('rinse fix  would change nothing');
  } else {
    lines.push('rinse fix  would repair:');
    const width = Math.max(...kinds.map(([k]) => k.length));
    for (const [kind, v] of kinds)
      lines.push(`  ${kind.padEnd(width)}  ${String(v?.count).padStart(6)}x  (largest ${v?.maxAmount})`);
  }
  if (r.needsTranscode)
    lines.push(`  and still NEEDS A TRANSCODE: ${r.needsTranscode.reason} (${r.needsTranscode.detail})`);
  return lines;
}

export function formatReport(r: InspectReport): string {
  return `${[...verdictLines(r), '', ...factLines(r), ...repairLines(r)].join('\n')}\n`;
}
