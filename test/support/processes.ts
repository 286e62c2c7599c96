/**
 * Real processes for relay tests, all on 127.0.0.1 and all killed by a deadline: `rinse
 * serve` (its JSON log lines collected), `rinse replay`, and an ffmpeg RTMP receiver
 * (`ffmpeg -listen 1 ... -c copy out.flv`), optionally behind a TLS terminator.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { connect, type Socket } from 'node:net';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { createServer as createTlsServer } from 'node:tls';
import { freePort } from './free-port.js';
import { expect } from 'vitest';
import { ffmpegPath } from './media.js';

export const BIN = resolve(import.meta.dirname, '../../bin/rinse.js');
export const TEST_CERT = resolve(import.meta.dirname, '../certs/test-only-cert.pem');
export const TEST_KEY = resolve(import.meta.dirname, '../certs/test-only-key.pem');

/**
 * Stream keys and tokens the tests put in URLs and settings. Every rinse process's whole
 * output is searched for them when it exits (test/support/no-secrets.ts fails the file).
 */
export const TEST_STREAM_KEY = 'sk-test-stream-key-7f3a';
export const TEST_SECRETS: string[] = [TEST_STREAM_KEY];
export const secretLeaks: string[] = [];

function checkForSecrets(output: string, what: string): void {
  for (const secret of TEST_SECRETS) if (output.includes(secret)) secretLeaks.push(`${what} printed ${secret}`);
}

export { freePort };

export async function waitFor(pred: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const start = Date.now();
  while (!pred()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export interface RinseProcess {
  readonly child: ChildProcess;
  readonly port: number;
  /** Parsed JSON log lines so far. */
  readonly lines: Array<Record<string, unknown>>;
  /** Everything printed, stdout and stderr (for "never logs X" checks). */
  output(): string;
  waitForLog(
    pred: (line: Record<string, unknown>) => boolean,
    what: string,
    timeoutMs?: number,
  ): Promise<Record<string, unknown>>;
  /** SIGTERM, then the exit code. */
  stop(): Promise<number | null>;
  /** The exit code, once it exits by itself. */
  exited(): Promise<number | null>;
}

/** `rinse serve --host 127.0.0.1 --rtmp-port <free>` plus `args`; resolves once it listens. */
export async function startRinse(
  args: string[],
  env: NodeJS.ProcessEnv = {},
  deadlineMs = 120_000,
  /** Runs the node command line inside another (e.g. a namespace): gets [node, ...argv], returns what to spawn. */
  launch: (command: string[]) => string[] = (command) => command,
): Promise<RinseProcess> {
  const port = await freePort();
  const [file, ...argv] = launch([
    process.execPath,
    ...[BIN, 'serve', '--host', '127.0.0.1', '--rtmp-port', String(port), '--api-port', '0', ...args],
  ]) as [string, ...string[]];
  const child = spawn(file, argv, {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
  const killer = setTimeout(() => child.kill('SIGKILL'), deadlineMs);
  killer.unref();
  const lines: Array<Record<string, unknown>> = [];
  let all = '';
  let buffered = '';
  child.stdout?.on('data', (b: Buffer) => {
    all += b.toString();
    buffered += b.toString();
    const parts = buffered.split('\n');
    buffered = parts.pop() ?? '';
    for (const p of parts) {
      if (!p) continue;
      try {
        lines.push(JSON.parse(p) as Record<string, unknown>);
      } catch {
        lines.push({ msg: p });
      }
    }
  });
  child.stderr?.on('data', (b: Buffer) => (all += b.toString()));
  const exited = new Promise<number | null>((r) =>
    child.on('close', (code) => {
      clearTimeout(killer);
      checkForSecrets(all, `rinse ${args.join(' ')}`);
      r(code);
    }),
  );
  let exitCode: number | null | undefined;
  void exited.then((c) => (exitCode = c));
  const proc: RinseProcess = {
    child,
    port,
    lines,
    output: () => all,
    async waitForLog(pred, what, timeoutMs = 20_000) {
      await waitFor(() => lines.some(pred) || exitCode !== undefined, what, timeoutMs);
      const found = lines.find(pred);
      if (!found) throw new Error(`rinse exited (${exitCode}) before ${what}:\n${all.slice(-3000)}`);
      return found;
    },
    async stop() {
      if (exitCode === undefined) child.kill('SIGTERM');
      return exited;
    },
    exited: () => exited,
  };
  await proc.waitForLog((l) => l.msg === 'relay ready', 'the relay to listen');
  return proc;
}

/** The API port a `rinse serve --api-port 0` chose, from its log. */
export async function apiPortOf(relay: Pick<RinseProcess, 'waitForLog'>): Promise<number> {
  return Number((await relay.waitForLog((l) => l.msg === 'api listening', 'the API')).port);
}

export interface ToolRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** `rinse replay <file> <url> --speed <speed>`, to its end. */
export function runReplay(
  file: string,
  url: string,
  speed = 4,
  extra: string[] = [],
  timeoutMs = 120_000,
): Promise<ToolRun> {
  return runProcess(process.execPath, [BIN, 'replay', '--speed', String(speed), ...extra, file, url], timeoutMs);
}

export function runProcess(
  cmd: string,
  args: string[],
  timeoutMs: number,
  env: NodeJS.ProcessEnv = {},
): Promise<ToolRun> {
  return new Promise((resolveRun) => {
    const isRinse = args[0] === BIN;
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(killer);
      if (isRinse) checkForSecrets(stdout + stderr, `rinse ${args.slice(1).join(' ')}`);
      resolveRun({ code, stdout, stderr });
    });
  });
}

export interface Receiver {
  readonly port: number;
  readonly url: string;
  readonly child: ChildProcess;
  /** The receiver's exit, once the relay unpublished (or it was killed). */
  readonly done: Promise<ToolRun>;
  kill(): void;
}

/**
 * A real RTMP receiver: `ffmpeg -listen 1 -i rtmp://127.0.0.1:PORT/live/out -c copy out.flv`.
 * It takes one connection and ends when that publisher leaves.
 */
export function startReceiver(out: string, port: number, timeoutMs = 120_000, streamName = TEST_STREAM_KEY): Receiver {
  const url = `rtmp://127.0.0.1:${port}/live/${streamName}`;
  const child = spawn(
    ffmpegPath,
    // No -copyts or any other timestamp flag: the receiver sees the timestamps as an ingest would.
    [
      '-hide_banner',
      '-nostdin',
      '-loglevel',
      'error',
      '-y',
      '-listen',
      '1',
      '-timeout',
      String(Math.ceil(timeoutMs / 1000)),
      '-i',
      url,
      '-c',
      'copy',
      '-f',
      'flv',
      out,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (b: Buffer) => (stdout += b.toString()));
  child.stderr?.on('data', (b: Buffer) => (stderr += b.toString()));
  const killer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  killer.unref();
  const done = new Promise<ToolRun>((r) =>
    child.on('close', (code) => {
      clearTimeout(killer);
      r({ code, stdout, stderr });
    }),
  );
  return { port, url, child, done, kill: () => child.kill('SIGKILL') };
}

/**
 * The only stderr lines a receiver or player (`ffmpeg -loglevel error -i rtmp://... -c copy
 * out.flv`) may print; any other line fails the test. Each entry says why it is not a fault.
 */
export const TOLERATED_RECEIVER_LINES: ReadonlyArray<{ pattern: RegExp; reason: string }> = [
  {
    // FFmpeg 5.1+ reports the end of the RTMP session (the publisher's deleteStream and close)
    // as a read error on the input, then finishes the output and exits 0; 4.1 says nothing.
    pattern: /^rtmp:\/\/127\.0\.0\.1:\d+\/\S+: Input\/output error$/,
    reason: 'FFmpeg 5.1+: the publisher ended its session',
  },
];

/** stderr lines of a receiver/player that no tolerated entry explains. */
export function unexpectedReceiverLines(stderr: string): string[] {
  return stderr
    .split('\n')
    .map((l) => l.trimEnd())
    .filter((l) => l.length > 0 && !TOLERATED_RECEIVER_LINES.some((t) => t.pattern.test(l)));
}

/**
 * A receiver or player judged by its exit code and what it printed: exit 0 and nothing but
 * tolerated lines. Its output file is judged separately, by the contract checks.
 */
export function expectReceiverClean(result: { code: number | null; stderr: string }, what = 'receiver'): void {
  expect(unexpectedReceiverLines(result.stderr), `${what}: stderr lines outside TOLERATED_RECEIVER_LINES`).toEqual([]);
  expect(result.code, `${what}: exit code`).toBe(0);
}

/** A TLS terminator on `port` (test-only certificate) forwarding each connection to `targetPort`. */
export async function startTlsTerminator(
  port: number,
  targetPort: number,
): Promise<{ close(): Promise<void>; connections: () => number }> {
  let connections = 0;
  const open = new Set<Socket>();
  const server = createTlsServer({ cert: readFileSync(TEST_CERT), key: readFileSync(TEST_KEY) }, (tlsSocket) => {
    connections++;
    const plain = connect(targetPort, '127.0.0.1');
    open.add(plain);
    tlsSocket.pipe(plain).pipe(tlsSocket);
    const end = (): void => {
      tlsSocket.destroy();
      plain.destroy();
      open.delete(plain);
    };
    tlsSocket.on('error', end);
    plain.on('error', end);
    tlsSocket.on('close', end);
    plain.on('close', end);
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    connections: () => connections,
    close: () =>
      new Promise<void>((r) => {
        for (const s of open) s.destroy();
        server.close(() => r());
      }),
  };
}
