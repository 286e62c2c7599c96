/**
 * The protocol-control duties both ends of an RTMP connection share: RTMP 1.0 §5.4
 * (Set Chunk Size and Abort are applied by the chunk parser; Window Acknowledgement Size,
 * Acknowledgement, Set Peer Bandwidth here) and §7.1.7 (user control: answer PingRequest).
 * The server session and the client each own one.
 */
import type { OutgoingMessage } from './chunk-writer.js';
import {
  CONTROL_CSID,
  acknowledgementMessage,
  parseUint32Body,
  parseUserControl,
  userControlMessage,
  type UserControl,
} from './control-messages.js';
import { RtmpError, RtmpErrorCode } from './errors.js';
import { DEFAULT_WINDOW_ACK_BYTES, MessageType, UserControlEvent, type RtmpMessage } from './message-types.js';

export class ProtocolControl {
  private readonly send: (csid: number, message: OutgoingMessage) => void;
  private readonly onUserControl: (uc: UserControl) => void;
  /** The peer's window: acknowledge each time this many bytes have arrived. */
  private peerWindowAckBytes = DEFAULT_WINDOW_ACK_BYTES;
  private bytesAtLastAck = 0;
  /** The sequence number (bytes received, mod 2^32) of the peer's latest Acknowledgement; null before its first. */
  peerAcknowledged: number | null = null;

  /** `onUserControl` gets every user control event but ping requests, which are answered here. */
  constructor(
    send: (csid: number, message: OutgoingMessage) => void,
    onUserControl: (uc: UserControl) => void = () => {},
  ) {
    this.send = send;
    this.onUserControl = onUserControl;
  }

  /** Handle `message` if it is a protocol or user control message; returns whether it was. Throws RtmpError when malformed. */
  handle(message: RtmpMessage): boolean {
    switch (message.typeId) {
      case MessageType.SET_CHUNK_SIZE:
      case MessageType.ABORT:
        return true; // applied by the chunk parser
      case MessageType.ACKNOWLEDGEMENT:
        // Kept so a sender can tell a peer that stopped reading from a slow one; a short one
        // is ignored as before (publishers' acknowledgements were never checked).
        if (message.payload.length >= 4) this.peerAcknowledged = message.payload.readUInt32BE(0);
        return true;
      case MessageType.WINDOW_ACK_SIZE: {
        const window = parseUint32Body(message.payload, 'Window Acknowledgement Size');
        if (window === 0) throw new RtmpError(RtmpErrorCode.CONTROL_MESSAGE, 'Window Acknowledgement Size 0');
        this.peerWindowAckBytes = window;
        return true;
      }
      case MessageType.SET_PEER_BANDWIDTH:
        parseUint32Body(message.payload, 'Set Peer Bandwidth');
        return true; // both ends announce their window right after connect
      case MessageType.USER_CONTROL: {
        const uc = parseUserControl(message.payload);
        if (uc.event === UserControlEvent.PING_REQUEST) {
          this.send(CONTROL_CSID, userControlMessage(UserControlEvent.PING_RESPONSE, uc.value));
        } else {
          this.onUserControl(uc);
        }
        return true;
      }
      default:
        return false;
    }
  }

  /** §5.4.3: after reading, acknowledge when a window's worth of bytes has arrived since the last. */
  acknowledge(bytesReceived: number): void {
    if (bytesReceived - this.bytesAtLastAck >= this.peerWindowAckBytes) {
      this.bytesAtLastAck = bytesReceived;
      this.send(CONTROL_CSID, acknowledgementMessage(bytesReceived));
    }
  }
}
