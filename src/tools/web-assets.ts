/**
 * The files the live page and the inspect report are made of: the package's `web/` folder
 * (plain browser JavaScript and CSS, no build step) and uPlot's browser build from its npm
 * package. Read from disk once, on first use; nothing is fetched at run time.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/** The package's web/ folder, from src/tools or dist/tools alike. */
const WEB_DIR = fileURLToPath(new URL('../../web/', import.meta.url));
const require = createRequire(import.meta.url);

/** Name as served under /ui/ -> where it is read from, and its content type. */
const ASSETS: Record<string, { path: () => string; type: string }> = {
  'uPlot.iife.min.js': { path: () => require.resolve('uplot/dist/uPlot.iife.min.js'), type: 'text/javascript' },
  'uPlot.min.css': { path: () => require.resolve('uplot/dist/uPlot.min.css'), type: 'text/css' },
  'timeline-charts.js': { path: () => `${WEB_DIR}timeline-charts.js`, type: 'text/javascript' },
  'live.js': { path: () => `${WEB_DIR}live.js`, type: 'text/javascript' },
  'rinse.css': { path: () => `${WEB_DIR}rinse.css`, type: 'text/css' },
  'live.html': { path: () => `${WEB_DIR}live.html`, type: 'text/html; charset=utf-8' },
};

const cache = new Map<string, { body: string; type: string }>();

/** One asset by name (null: no such asset: names are a fixed list, never a path). */
export function webAsset(name: string): { body: string; type: string } | null {
  const spec = Object.hasOwn(ASSETS, name) ? ASSETS[name] : undefined;
  if (spec === undefined) return null;
  let hit = cache.get(name);
  if (hit === undefined) {
    hit = { body: readFileSync(spec.path(), 'utf8'), type: spec.type };
    cache.set(name, hit);
  }
  return hit;
}
