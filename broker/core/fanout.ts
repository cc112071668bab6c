/**
 * Scratch state of one fan-out (one message routed to its targets), owned by the core and reused for every message:
 * the packet variants already encoded (copied to further targets with only the packet id patched), the stored copy
 * of the message once some target needs to keep it, and the sessions whose queues were full.
 */
import type { Msg } from './message.js';
import type { Session } from './session.js';

export class Fanout {
  /** Counter identifying the message being routed; a memo slot is valid when its pass equals it. */
  pass = 0;
  // Encoded variants: index = (v5 ? 6 : 0) + qos * 2 + retain.
  readonly memoPass = new Int32Array(12);
  readonly memoBuf: Buffer[] = new Array<Buffer>(12).fill(Buffer.alloc(0));
  readonly memoOff = new Int32Array(12);
  readonly memoLen = new Int32Array(12);
  readonly memoPid = new Int32Array(12);
  /** The stored copy of the message being routed, made on first need. */
  stored: Msg | null = null;
  source: Msg | null = null;
  // Sessions whose queue was full for this message, with what each was to get.
  readonly fullSessions: Session[] = [];
  readonly fullQos: number[] = [];
  readonly fullRetain: boolean[] = [];
  readonly fullSubIds: (readonly number[] | null)[] = [];

  begin(m: Msg): void {
    this.pass++;
    this.stored = m.stored ? m : null;
    this.source = m;
    if (this.fullSessions.length !== 0) this.fullSessions.length = 0;
  }

  /** A copy of `m` that may be kept (made once per message). */
  storedCopy(m: Msg): Msg {
    if (this.source !== m) this.begin(m);
    return (this.stored ??= m.store());
  }

  noteFull(session: Session, qos: number, retain: boolean, subIds: readonly number[] | null): void {
    const n = this.fullSessions.length;
    this.fullSessions.push(session);
    this.fullQos[n] = qos;
    this.fullRetain[n] = retain;
    this.fullSubIds[n] = subIds;
  }
}
