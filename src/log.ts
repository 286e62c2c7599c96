/**
 * The one root logger. Components take it as a parameter and make children
 * (`logger.child({ session })`); nothing else creates loggers. Messages are fixed strings
 * with fields; nothing per packet above trace; never a stream key or a full ingest URL.
 */
import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

/** What pino logs unless told otherwise. */
export const DEFAULT_LOG_LEVEL = 'info';

export interface LoggerOptions {
  level?: LevelWithSilent;
  /** Where JSON lines go; stdout by default. */
  destination?: NodeJS.WritableStream;
}

export function createLogger(options: LoggerOptions = {}): Logger {
  const opts = { level: options.level ?? DEFAULT_LOG_LEVEL, base: { service: 'rinse' } };
  return options.destination ? pino(opts, options.destination) : pino(opts);
}
