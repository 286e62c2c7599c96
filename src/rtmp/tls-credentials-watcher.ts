/**
 * Re-reads the RTMPS certificate and key when their files change, so a renewed certificate
 * (a Kubernetes secret rotation, a certbot renewal) is served without a restart: new
 * connections get the new pair, live ones go on with the one they shook hands with.
 *
 * It watches the directories, not the files: Kubernetes swaps a secret by renaming a `..data`
 * symlink, and a watch on the old file would go on watching an inode nobody points at. A slow
 * poll of the files' stat catches what a watch misses (network filesystems, a watch that
 * failed). Events are debounced, since a rotation is several renames and a copy several
 * writes. A pair that fails to load or check is not applied: the old one stays, and the
 * failure is logged with its code and counted.
 */
import { EventEmitter } from 'node:events';
import { statSync, watch, type FSWatcher } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import {
  loadTlsCredentials,
  sameTlsCredentials,
  type TlsCredentialPaths,
  type TlsCredentials,
} from './tls-credentials.js';
import { TlsError, TlsErrorCode } from './tls-errors.js';

export interface TlsWatchOptions {
  /** Quiet time after the last change before reloading, ms. */
  debounceMs: number;
  /** Stat both files this often as a fallback to the watch, ms. */
  pollMs: number;
}

export const DEFAULT_TLS_WATCH_OPTIONS: TlsWatchOptions = { debounceMs: 500, pollMs: 30_000 };

export interface TlsCredentialsWatcherEvents {
  /** New credentials were applied. */
  reloaded: [TlsCredentials];
  /** Changed files did not give usable credentials; the old ones stay. */
  reloadFailed: [TlsError];
}

/** What one reload attempt did. */
export type TlsReloadResult = 'reloaded' | 'unchanged' | 'failed';

export class TlsCredentialsWatcher extends EventEmitter<TlsCredentialsWatcherEvents> {
  private current: TlsCredentials;
  private readonly log: Logger;
  private readonly options: TlsWatchOptions;
  private readonly watchers: FSWatcher[] = [];
  private debounce: NodeJS.Timeout | null = null;
  private poll: NodeJS.Timeout | null = null;
  /** Both files' stat at the last attempt: the poll reloads when it differs. */
  private lastSeen = '';
  private closed = false;

  /**
   * `apply` installs checked credentials (the server's setSecureContext); if it throws, the
   * old ones stay and the failure is reported like a bad file.
   */
  constructor(
    private readonly paths: TlsCredentialPaths,
    initial: TlsCredentials,
    private readonly apply: (credentials: TlsCredentials) => void,
    logger: Logger,
    options: Partial<TlsWatchOptions> = {},
  ) {
    super();
    this.current = initial;
    this.log = logger.child({ component: 'tls' });
    this.options = { ...DEFAULT_TLS_WATCH_OPTIONS, ...options };
  }

  /** The credentials in use. */
  get credentials(): TlsCredentials {
    return this.current;
  }

  start(): void {
    this.lastSeen = this.statSignature();
    for (const dir of new Set([dirname(this.paths.certPath), dirname(this.paths.keyPath)])) this.watchDirectory(dir);
    this.poll = setInterval(() => {
      if (this.statSignature() !== this.lastSeen) this.schedule();
    }, this.options.pollMs);
    this.poll.unref();
  }

  close(): void {
    this.closed = true;
    for (const w of this.watchers) w.close();
    this.watchers.length = 0;
    if (this.debounce) clearTimeout(this.debounce);
    if (this.poll) clearInterval(this.poll);
    this.debounce = this.poll = null;
  }

  /** Load, check and apply the files now (the debounce and the poll end here). */
  reload(): TlsReloadResult {
    this.lastSeen = this.statSignature();
    let next: TlsCredentials;
    try {
      next = loadTlsCredentials(this.paths);
    } catch (err) {
      return this.failed(err instanceof TlsError ? err : new TlsError(TlsErrorCode.CONTEXT, String(err)));
    }
    if (sameTlsCredentials(next, this.current)) return 'unchanged';
    try {
      this.apply(next);
    } catch (err) {
      return this.failed(new TlsError(TlsErrorCode.CONTEXT, `refused for TLS: ${(err as Error).message}`));
    }
    this.current = next;
    this.log.info(
      {
        certSubject: next.info.subject,
        certFingerprint: next.info.fingerprint256,
        certNotAfter: next.info.notAfter,
        certSan: next.info.subjectAltName ?? undefined,
        certPath: this.paths.certPath,
      },
      'tls credentials reloaded',
    );
    this.emit('reloaded', next);
    return 'reloaded';
  }

  private failed(err: TlsError): TlsReloadResult {
    this.log.warn(
      {
        code: err.code,
        err: err.message,
        certPath: this.paths.certPath,
        keyPath: this.paths.keyPath,
        certFingerprint: this.current.info.fingerprint256,
      },
      'tls credentials reload failed: keeping the current certificate',
    );
    this.emit('reloadFailed', err);
    return 'failed';
  }

  private watchDirectory(dir: string): void {
    try {
      const watcher = watch(dir, { persistent: false }, () => this.schedule());
      watcher.on('error', (err) => {
        this.log.warn({ err: err.message, dir }, 'tls watch failed: polling only');
        watcher.close();
      });
      this.watchers.push(watcher);
    } catch (err) {
      this.log.warn({ err: (err as Error).message, dir }, 'tls watch failed: polling only');
    }
  }

  private schedule(): void {
    if (this.closed) return;
    if (this.debounce) clearTimeout(this.debounce);
    this.debounce = setTimeout(() => {
      this.debounce = null;
      if (!this.closed) this.reload();
    }, this.options.debounceMs);
    this.debounce.unref();
  }

  /** Inode, size and mtime of both files through their symlinks; a missing one by its error code. */
  private statSignature(): string {
    return [this.paths.certPath, this.paths.keyPath]
      .map((path) => {
        try {
          const s = statSync(path);
          return `${s.ino}:${s.size}:${s.mtimeMs}`;
        } catch (err) {
          return (err as NodeJS.ErrnoException).code ?? 'error';
        }
      })
      .join('|');
  }
}
