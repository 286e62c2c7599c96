/**
 * nginx-rtmp as a bench peer: the relay that repairs nothing and costs the least (C, one
 * event loop, a chain of buffers per write). Debian's nginx-light with libnginx-mod-rtmp,
 * configured here in a temp prefix as an RTMP `push` relay and run in the foreground on
 * 127.0.0.1; the bench starts and stops it. Not installed: the bench says so and skips it.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, sleep, type Receiver, type RelayProcess } from './live.js';

/** Where Debian's packages put the server and the RTMP module. */
const NGINX_CANDIDATES = ['/usr/sbin/nginx', '/usr/bin/nginx'];
const RTMP_MODULE_CANDIDATES = [
  '/usr/lib/nginx/modules/ngx_rtmp_module.so',
  '/usr/share/nginx/modules/ngx_rtmp_module.so',
];
/** How to get it, for the line the bench prints when it is missing. */
export const NGINX_INSTALL_HINT = 'apt-get install nginx-light libnginx-mod-rtmp';
/** nginx's own start-up; a publish before it listens would fail. */
const START_MS = 400;

export interface NginxRtmp {
  nginx: string;
  module: string;
}

/** The installed nginx and RTMP module, or null. */
export function findNginxRtmp(): NginxRtmp | null {
  const nginx = NGINX_CANDIDATES.find((p) => existsSync(p));
  const module = RTMP_MODULE_CANDIDATES.find((p) => existsSync(p));
  return nginx !== undefined && module !== undefined ? { nginx, module } : null;
}

/** The configuration: one worker (rinse's JavaScript runs on one core too), push to the receiver. */
function config(tool: NginxRtmp, prefix: string, port: number, receiver: Pick<Receiver, 'port'>): string {
  return `load_module ${tool.module};
daemon off;
master_process off;
worker_processes 1;
pid ${join(prefix, 'nginx.pid')};
error_log ${join(prefix, 'error.log')} warn;
events { worker_connections 8192; }
rtmp {
  server {
    listen 127.0.0.1:${port};
    chunk_size 4096;
    application live {
      live on;
      # Each published stream goes on to the receiver under the same name, in live/out.
      push rtmp://127.0.0.1:${receiver.port} app=live/out;
    }
  }
}
`;
}

/** nginx-rtmp relaying every stream published to it to `receiver` (live/out/{name}). */
export async function startNginxRelay(tool: NginxRtmp, receiver: Pick<Receiver, 'port'>): Promise<RelayProcess> {
  const port = await freePort();
  const prefix = mkdtempSync(join(tmpdir(), 'rinse-bench-nginx-'));
  const conf = join(prefix, 'nginx.conf');
  writeFileSync(conf, config(tool, prefix, port, receiver));
  const child = spawn(tool.nginx, ['-p', prefix, '-c', conf, '-e', join(prefix, 'error.log')], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const closed = new Promise<void>((r) => child.on('close', () => r()));
  await sleep(START_MS);
  return {
    name: 'nginx-rtmp push',
    child,
    ingestUrl: (stream) => `rtmp://127.0.0.1:${port}/live/${stream}`,
    stop: async () => {
      child.kill('SIGQUIT');
      await Promise.race([closed, sleep(3000)]);
      child.kill('SIGKILL');
      rmSync(prefix, { recursive: true, force: true });
    },
  };
}
