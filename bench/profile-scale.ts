/**
 * One scale point of the live benchmark, for profiling: N paced publishers -> `rinse serve`
 * -> the in-process receiver, for S seconds. Prints rinse's CPU (user and system, and per
 * thread, so V8's collector threads show), its RSS, and the arrival - send latency. With
 * `--cpu-prof` rinse writes a V8 CPU profile to bench/profiles/; `--trace-gc` counts its
 * collections. rinse runs with the node flags of bin/rinse.js's shebang, as deployed
 * (`--bare`: without them); anything after `--` also goes to node (V8 flags).
 *
 *   tsx bench/profile-scale.ts [N=50] [seconds=15] [--cpu-prof] [--trace-gc] [--bare] [-- --v8-flag ...]
 *
 * Needs the bench source (made by `npm run bench`) and a built dist/.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { BIN, BIN_NODE_FLAGS, Receiver, freePort, loadTags, publish, serveArgs, sleep } from './live.js';

const CLOCK_TICKS_PER_S = 100;
const args = process.argv.slice(2);
const dashdash = args.indexOf('--');
const nodeFlags = dashdash >= 0 ? args.slice(dashdash + 1) : [];
const own = dashdash >= 0 ? args.slice(0, dashdash) : args;
const numbers = own.filter((a) => /^\d+$/.test(a)).map(Number);
const n = numbers[0] ?? 50;
const seconds = numbers[1] ?? 15;
const cpuProf = own.includes('--cpu-prof');
const traceGc = own.includes('--trace-gc');
const bare = own.includes('--bare');
const source = resolve(import.meta.dirname, '../node_modules/.cache/rinse-bench/source-720p30-2500k-40s.flv');
if (!existsSync(source)) throw new Error(`no bench source at ${source}: run \`npm run bench -- --quick\` once first`);

/** utime and stime of a process or thread, in seconds, from its /proc stat line. */
function times(statPath: string): { user: number; sys: number; name: string } {
  const stat = readFileSync(statPath, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return {
    user: Number(fields[11]) / CLOCK_TICKS_PER_S,
    sys: Number(fields[12]) / CLOCK_TICKS_PER_S,
    name: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')),
  };
}

const tags = loadTags(source);
const receiver = new Receiver();
await receiver.start();
const port = await freePort();
const profDir = resolve(import.meta.dirname, 'profiles');
const child = spawn(
  process.execPath,
  [
    ...(bare ? [] : BIN_NODE_FLAGS),
    ...nodeFlags,
    ...(cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : []),
    ...(traceGc ? ['--trace-gc'] : []),
    BIN,
    ...serveArgs(port, receiver),
  ],
  { stdio: ['ignore', traceGc ? 'pipe' : 'ignore', 'inherit'] },
);
let scavenges = 0;
let markCompacts = 0;
child.stdout?.on('data', (b: Buffer) => {
  const text = b.toString();
  scavenges += text.split('Scavenge').length - 1;
  markCompacts += text.split('Mark-Compact').length - 1;
});
await sleep(600);
const pid = child.pid as number;
const streams = Array.from({ length: n }, (_, i) => `p${i}`);
const arrivals = streams.map((s) => receiver.watch(`live/out/${s}`));
const before = times(`/proc/${pid}/stat`);
const threadsBefore = new Map(readdirSync(`/proc/${pid}/task`).map((t) => [t, times(`/proc/${pid}/task/${t}/stat`)]));
const gcBefore = { scavenges, markCompacts };
const t0 = performance.now() + 200;
const sends = await Promise.all(
  streams.map((s, i) =>
    publish(`rtmp://127.0.0.1:${port}/live/bench/${s}`, tags, seconds, t0 + (i * 33) / Math.max(1, n / 30)),
  ),
);
const after = times(`/proc/${pid}/stat`);
const status = readFileSync(`/proc/${pid}/status`, 'utf8');
const kb = (key: string): number =>
  Number(/(\d+) kB/.exec(status.split('\n').find((l) => l.startsWith(key)) ?? '')?.[1] ?? Number.NaN);
const latencies: number[] = [];
for (let i = 0; i < n; i++) {
  const s = sends[i] as number[];
  const a = arrivals[i] as number[];
  for (let k = 75; k < Math.min(s.length, a.length); k++) latencies.push((a[k] as number) - (s[k] as number));
}
latencies.sort((x, y) => x - y);
const pct = (p: number): string =>
  (latencies[Math.min(latencies.length - 1, Math.ceil(p * latencies.length) - 1)] ?? Number.NaN).toFixed(2);
const cpu = after.user - before.user + after.sys - before.sys;
const out = [
  `rinse serve, ${n} streams for ${seconds} s (node ${[...(bare ? [] : BIN_NODE_FLAGS), ...nodeFlags].join(' ') || 'without flags'})`,
  `  CPU ${((100 * cpu) / seconds / n).toFixed(3)}% of a core per stream: user ${(after.user - before.user).toFixed(2)} s, system ${(after.sys - before.sys).toFixed(2)} s`,
];
for (const t of readdirSync(`/proc/${pid}/task`)) {
  const now = times(`/proc/${pid}/task/${t}/stat`);
  const was = threadsBefore.get(t) ?? { user: 0, sys: 0 };
  const used = now.user - was.user + now.sys - was.sys;
  if (used > 0) out.push(`    thread ${t} (${now.name}): ${used.toFixed(2)} s`);
}
out.push(`  RSS ${(kb('VmRSS') / 1024).toFixed(1)} MB, peak ${(kb('VmHWM') / 1024).toFixed(1)} MB`);
out.push(
  `  arrival - send (harness clock, not minus the direct path): p50 ${pct(0.5)} ms, p99 ${pct(0.99)} ms over ${latencies.length} frames`,
);
if (traceGc)
  out.push(
    `  collections during the run: ${scavenges - gcBefore.scavenges} scavenges, ${markCompacts - gcBefore.markCompacts} mark-compacts`,
  );
child.kill('SIGTERM');
await new Promise((r) => child.once('exit', r));
if (cpuProf) out.push(`  CPU profile: ${join(profDir, readdirSync(profDir).sort().at(-1) ?? '?')}`);
process.stdout.write(`${out.join('\n')}\n`);
await receiver.server.close();
process.exit(0);
