/**
 * Finds the ffmpeg and ffprobe binaries, in this order:
 * 1. FFMPEG_PATH / FFPROBE_PATH (an operator's explicit choice wins);
 * 2. `ffmpeg` / `ffprobe` on PATH (a system build, e.g. Debian's in the container);
 * 3. the binaries shipped by the npm packages @ffmpeg-installer/ffmpeg and
 *    @ffprobe-installer/ffprobe (so CI and a fresh clone need nothing installed).
 */
import { accessSync, chmodSync, constants, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, join } from 'node:path';

export type ToolName = 'ffmpeg' | 'ffprobe';
export type ToolSource = 'env' | 'path' | 'package';

export interface LocatedTool {
  readonly name: ToolName;
  readonly path: string;
  readonly source: ToolSource;
}

const ENV_VAR: Record<ToolName, string> = { ffmpeg: 'FFMPEG_PATH', ffprobe: 'FFPROBE_PATH' };
const PACKAGE: Record<ToolName, string> = { ffmpeg: '@ffmpeg-installer/ffmpeg', ffprobe: '@ffprobe-installer/ffprobe' };

function isExecutableFile(path: string): boolean {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function fromPath(name: ToolName, searchPath: string | undefined): string | null {
  for (const dir of (searchPath ?? '').split(delimiter)) {
    if (dir.length === 0) continue;
    const candidate = join(dir, name);
    if (isExecutableFile(candidate)) return candidate;
  }
  return null;
}

function fromPackage(name: ToolName): string | null {
  try {
    const require = createRequire(import.meta.url);
    const located = require(PACKAGE[name]) as { path?: string };
    const path = located.path;
    if (typeof path !== 'string') return null;
    if (!isExecutableFile(path)) {
      // Some installs skip the package's postinstall chmod; the binary is ours to fix.
      try {
        chmodSync(path, 0o755);
      } catch {
        return null;
      }
    }
    return isExecutableFile(path) ? path : null;
  } catch {
    return null;
  }
}

/** Locate `name`, or return null when none of the three places has it. */
export function locateTool(name: ToolName, env: NodeJS.ProcessEnv = process.env): LocatedTool | null {
  const explicit = env[ENV_VAR[name]];
  if (explicit !== undefined && explicit.length > 0) {
    // An explicit setting that does not work is an error, not a reason to guess.
    return isExecutableFile(explicit) ? { name, path: explicit, source: 'env' } : null;
  }
  const onPath = fromPath(name, env.PATH);
  if (onPath !== null) return { name, path: onPath, source: 'path' };
  const packaged = fromPackage(name);
  if (packaged !== null) return { name, path: packaged, source: 'package' };
  return null;
}

/** Like {@link locateTool} but throws an Error that says where it looked. */
export function requireTool(name: ToolName, env: NodeJS.ProcessEnv = process.env): LocatedTool {
  const tool = locateTool(name, env);
  if (tool !== null) return tool;
  const explicit = env[ENV_VAR[name]];
  if (explicit) throw new Error(`${ENV_VAR[name]}=${explicit} is not an executable file`);
  throw new Error(
    `${name} not found: set ${ENV_VAR[name]}, put ${name} on PATH, or run npm install (${PACKAGE[name]})`,
  );
}
