/**
 * What can be checked of the deployment here (no Docker or Kubernetes on CI): the manifests
 * parse and name the probes, ports and drain settings; the Dockerfile copies `npm pack`
 * output and the CLI runs from that output; `rinse/cloud` resolves through the package
 * exports and pulls in no relay server code.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments, parse } from 'yaml';
import { runProcess } from './support/processes.js';
import { SETTINGS } from '../src/settings.js';

const ROOT = resolve(import.meta.dirname, '..');
const read = (p: string): string => readFileSync(join(ROOT, p), 'utf8');

describe('deployment files', () => {
  it('k8s: Deployment with probes on the API port, drain-sized grace, preStop; Services; HPA', () => {
    const deployment = parse(read('deploy/k8s/deployment.yaml')) as any;
    expect(deployment.kind).toBe('Deployment');
    const pod = deployment.spec.template.spec;
    const container = pod.containers[0];
    expect(container.ports.map((p: any) => p.containerPort).sort()).toEqual([1935, 1936, 9997]);
    // Every variable the pod sets is one rinse reads, and the TLS files are mounted.
    const envNames = new Set(Object.values(SETTINGS).map((spec) => spec.env));
    for (const e of container.env) expect(envNames.has(e.name), e.name).toBe(true);
    const certPath = String(container.env.find((e: any) => e.name === 'RINSE_TLS_CERT').value);
    const mount = container.volumeMounts.find((m: any) => certPath.startsWith(m.mountPath));
    expect(pod.volumes.find((v: any) => v.name === mount.name).secret.secretName).toBe('rinse-tls');
    expect(container.livenessProbe.httpGet).toMatchObject({ path: '/healthz', port: 'api' });
    expect(container.readinessProbe.httpGet).toMatchObject({ path: '/readyz', port: 'api' });
    expect(container.lifecycle.preStop).toBeDefined();
    const drainMs = Number(container.env.find((e: any) => e.name === 'RINSE_DRAIN_TIMEOUT_MS').value);
    const preStopS = Number(container.lifecycle.preStop.exec.command.at(-1));
    expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(drainMs / 1000 + preStopS);

    const services = parseAllDocuments(read('deploy/k8s/service.yaml')).map((d) => d.toJS() as any);
    const rtmp = services.find((s) => s.spec.type === 'LoadBalancer');
    const api = services.find((s) => s.spec.type === 'ClusterIP');
    expect(rtmp.spec.ports.map((p: any) => p.port)).toEqual([1935, 1936]);
    expect(api.spec.ports[0].port).toBe(9997);

    const hpa = parse(read('deploy/k8s/hpa.yaml')) as any;
    expect(hpa.kind).toBe('HorizontalPodAutoscaler');
    expect(hpa.spec.metrics[0].resource.name).toBe('cpu');
    expect(read('deploy/k8s/hpa.yaml')).toMatch(/rinse_publishers_active/);
  });

  it("porter.yaml keeps the seed's health path, and rinse.example.yml is a valid config with every setting", async () => {
    const porter = parse(read('deploy/porter.yaml')) as any;
    expect(porter.services[0].healthCheck.httpPath).toBe('/v3/config/get');
    expect(porter.services[0].port).toBe(1935);
    const example = parse(read('deploy/rinse.example.yml')) as Record<string, unknown>;
    const { SETTINGS } = await import('../src/config.js');
    const documented = read('deploy/rinse.example.yml');
    for (const key of Object.keys(SETTINGS))
      expect(documented, `rinse.example.yml documents ${key}`).toMatch(new RegExp(`^#? ?${key}:`, 'm'));
    const check = await runProcess(
      process.execPath,
      [join(ROOT, 'bin/rinse.js'), 'config', 'check', '--config', join(ROOT, 'deploy/rinse.example.yml')],
      30_000,
    );
    expect(check.stderr).toBe('');
    expect(check.code).toBe(0);
    expect(Object.keys(example).length).toBeGreaterThan(20);
  });

  it('Dockerfile: multi-stage, Debian ffmpeg, non-root, HEALTHCHECK on /healthz, ports 1935, 1936 and 9997, installs the npm pack output', () => {
    const docker = read('Dockerfile');
    expect(docker.match(/^FROM /gm)).toHaveLength(2);
    expect(docker).toMatch(/apt-get install[^\n]*ffmpeg/);
    expect(docker).toMatch(/^USER node$/m);
    expect(docker).toMatch(/HEALTHCHECK[\s\S]*\/healthz/);
    expect(docker).toMatch(/^EXPOSE 1935 1936 9997$/m);
    expect(docker).toMatch(/npm pack/);
    expect(read('.dockerignore')).toMatch(/node_modules/);
  });

  it('the CLI runs from npm pack output', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rinse-pack-'));
    execFileSync('npm', ['pack', '--ignore-scripts', '--pack-destination', dir], { cwd: ROOT, stdio: 'ignore' });
    const tarball = readdirSync(dir).find((f) => f.endsWith('.tgz')) as string;
    execFileSync('tar', ['-xzf', join(dir, tarball), '-C', dir]);
    const files = readdirSync(join(dir, 'package'));
    expect(files).toEqual(expect.arrayContaining(['bin', 'dist', 'web', 'package.json']));
    expect(files).not.toContain('src');
    // The live page's files ship (the API reads them from the package, uPlot from its dependency).
    expect(readdirSync(join(dir, 'package', 'web')).sort()).toEqual(
      ['live.html', 'live.js', 'rinse.css', 'timeline-charts.js'].sort(),
    );
    // Dependencies as `npm install` of the tarball would place them.
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'package', 'node_modules'));
    const help = await runProcess(process.execPath, [join(dir, 'package/bin/rinse.js'), 'help'], 30_000);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/rinse serve options/);
    const check = await runProcess(process.execPath, [join(dir, 'package/bin/rinse.js'), 'config', 'check'], 30_000);
    expect(check.code).toBe(0);
    // Run as a command (npx, a global install, the Docker entrypoint), the shebang's V8 flag
    // reaches node: a module preloaded through NODE_OPTIONS prints node's own flags.
    const printFlags = join(dir, 'print-flags.mjs');
    writeFileSync(printFlags, "console.log('execArgv=' + process.execArgv.join(' '));\n");
    const direct = await runProcess(join(dir, 'package/bin/rinse.js'), ['help'], 30_000, {
      NODE_OPTIONS: `--import=${printFlags}`,
    });
    expect(direct.code).toBe(0);
    expect(direct.stdout).toMatch(/^execArgv=--initial-old-space-size=64$/m);
    expect(direct.stdout).toMatch(/rinse serve options/);
    const cloud = await runProcess(
      process.execPath,
      ['--input-type=module', '-e', "import('rinse/cloud').then((m) => console.log(Object.keys(m).sort().join(',')))"],
      30_000,
    );
    expect(cloud.stdout.trim()).toBe(
      'RelayService,RtmpRelayService,createCfUrlHandler,parseRelayUrls,pickRelay,rendezvousScore',
    );
  });

  it('rinse/cloud pulls in no relay server code', () => {
    const seen = new Set<string>();
    const walk = (file: string): void => {
      if (seen.has(file)) return;
      seen.add(file);
      for (const m of read(file).matchAll(/from '(\.[^']+)'/g))
        walk(join(file, '..', m[1] as string).replace(/^\//, ''));
    };
    walk('dist/cloud/index.js');
    // Its own files, and from the shared vocabulary only the publish token it signs.
    expect([...seen].filter((f) => !f.startsWith('dist/cloud/'))).toEqual(['dist/media/publish-token.js']);
    for (const f of seen) expect(read(f)).not.toMatch(/from '(pino|prom-client)'/);
  });
});
