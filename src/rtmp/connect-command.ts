/**
 * The connect command (RTMP 1.0 §7.2.1.1): its command object, read once, and the answer
 * a successful connect gets.
 */
import type { Amf0Value } from '../media/amf0.js';
import { RtmpError, RtmpErrorCode } from './errors.js';
import { normaliseApp } from './stream-path.js';

/** Longest app or tcUrl kept from a connect; longer ones are cut (they only feed lookups). */
const MAX_CONNECT_STRING_CHARS = 2048;

export interface ConnectRequest {
  /** The app without query string or slashes at the ends. */
  readonly app: string;
  /** The first segment of `app`, which selects publish or play. */
  readonly appHead: string;
  /** The app as sent (it may carry the publish URL's query). */
  readonly rawApp: string;
  /** The tcUrl as sent, '' when absent. */
  readonly tcUrl: string;
}

function text(value: Amf0Value | undefined): string {
  return typeof value === 'string' ? value.slice(0, MAX_CONNECT_STRING_CHARS) : '';
}

/** Read a connect's command object; a missing or non-object one is a protocol violation. */
export function readConnectCommand(commandObject: Amf0Value | undefined): ConnectRequest {
  if (
    commandObject === null ||
    commandObject === undefined ||
    typeof commandObject !== 'object' ||
    Array.isArray(commandObject) ||
    commandObject instanceof Date
  ) {
    throw new RtmpError(RtmpErrorCode.COMMAND_INVALID, 'connect without a command object');
  }
  const props = commandObject as Record<string, Amf0Value>;
  const rawApp = text(props.app);
  const app = normaliseApp(rawApp);
  return { app, appHead: app.split('/')[0] ?? '', rawApp, tcUrl: text(props.tcUrl) };
}

/** The `_result` arguments after the transaction id: properties and information. */
export const CONNECT_SUCCESS: readonly Amf0Value[] = [
  { fmsVer: 'FMS/3,5,7,7009', capabilities: 31, mode: 1 },
  {
    level: 'status',
    code: 'NetConnection.Connect.Success',
    description: 'Connection succeeded.',
    objectEncoding: 0,
  },
];
