/**
 * An application message as the broker routes it.
 *
 * The same shape serves two lives: a transient view over the bytes of the PUBLISH that just arrived (topic,
 * properties and payload are ranges of the socket's read buffer: nothing copied), and a stored message (retained,
 * queued, or in flight) that owns one buffer holding all its bytes. `store()` turns the first into the second, once,
 * only when some target needs to keep it.
 */
import type { AckTicket, Outlet } from './outlet.js';

/** Where a message came from: the publishing session (for no-local, and to hold back its publisher). */
export interface Origin {
  readonly conn: Outlet | null;
}

export class Msg {
  topic = '';
  /** Topic bytes: tBuf[tOff, tOff + tLen). */
  tBuf: Buffer = EMPTY;
  tOff = 0;
  tLen = 0;
  /** Payload bytes: pBuf[pOff, pOff + pLen). */
  pBuf: Buffer = EMPTY;
  pOff = 0;
  pLen = 0;
  /**
   * v5 properties forwarded to subscribers, already encoded (without topic alias, message expiry and subscription
   * identifiers, which are per delivery): xBuf[xOff, xOff + xLen).
   */
  xBuf: Buffer = EMPTY;
  xOff = 0;
  xLen = 0;
  qos = 0;
  retain = false;
  /** Absolute expiry time in ms (Date.now() clock), 0 when the message does not expire. */
  expiryAt = 0;
  /** The session that published it (for v5 no-local), null for wills published after the session ended and $SYS. */
  origin: Origin | null = null;
  /** True once this object owns its bytes and may be kept. */
  stored = false;
  /**
   * Set by route() on the message being routed when copies of it were parked for full sessions: the publisher's
   * acknowledgement waits for them (see flow.ts). Never set on stored copies.
   */
  ticket: AckTicket | null = null;
  /** When it was retained: the retained store's sequence number at that moment (0: never retained). */
  retainedAt = 0;
  /** The persistent store's id of this message (0: never written), and the generation of the file it was written to. */
  storeId = 0;
  storeGen = 0;

  /** A stored copy owning its bytes (or this object itself when it is already stored). */
  store(): Msg {
    if (this.stored) return this;
    const m = new Msg();
    const all = Buffer.allocUnsafe(this.tLen + this.xLen + this.pLen);
    this.tBuf.copy(all, 0, this.tOff, this.tOff + this.tLen);
    this.xBuf.copy(all, this.tLen, this.xOff, this.xOff + this.xLen);
    this.pBuf.copy(all, this.tLen + this.xLen, this.pOff, this.pOff + this.pLen);
    m.topic = this.topic;
    m.tBuf = all;
    m.tOff = 0;
    m.tLen = this.tLen;
    m.xBuf = all;
    m.xOff = this.tLen;
    m.xLen = this.xLen;
    m.pBuf = all;
    m.pOff = this.tLen + this.xLen;
    m.pLen = this.pLen;
    m.qos = this.qos;
    m.retain = this.retain;
    m.expiryAt = this.expiryAt;
    m.origin = this.origin;
    m.stored = true;
    return m;
  }

  payload(): Buffer {
    return this.pBuf.subarray(this.pOff, this.pOff + this.pLen);
  }

  expired(now: number): boolean {
    return this.expiryAt !== 0 && now >= this.expiryAt;
  }
}

const EMPTY = Buffer.alloc(0);

/** A stored message built from parts (wills, $SYS values). */
export function makeMessage(
  topic: string,
  payload: Buffer,
  qos: number,
  retain: boolean,
  props: Buffer | null,
  expiryAt: number,
  origin: Origin | null,
): Msg {
  const m = new Msg();
  m.topic = topic;
  m.tBuf = Buffer.from(topic, 'utf8');
  m.tLen = m.tBuf.length;
  m.pBuf = payload;
  m.pLen = payload.length;
  if (props) {
    m.xBuf = props;
    m.xLen = props.length;
  }
  m.qos = qos;
  m.retain = retain;
  m.expiryAt = expiryAt;
  m.origin = origin;
  m.stored = true;
  return m;
}
