/**
 * A publisher's packet identifiers over the whole 1..65,535 range: handed out in turn, wrapping after 65,535, and
 * skipping any still in flight (acknowledgements may come out of order, and a QoS 2 id stays taken until PUBCOMP).
 */

export const MAX_PACKET_ID = 65_535;

/** State of an id: free, or in flight with its flow's progress (QoS 2 moves SENT → RELEASED). */
export const IdState = { free: 0, sent: 1, released: 2 } as const;
export type IdState = (typeof IdState)[keyof typeof IdState];

export class PacketIds {
  /** Ids in flight. */
  inFlight = 0;
  private readonly states = new Uint8Array(MAX_PACKET_ID + 1);
  private next = 1;

  /** The next free id after the last one taken, now in flight as SENT; 0 when all 65,535 are in flight. */
  take(): number {
    if (this.inFlight >= MAX_PACKET_ID) return 0;
    const states = this.states;
    let id = this.next;
    while (states[id] !== IdState.free) id = id === MAX_PACKET_ID ? 1 : id + 1;
    states[id] = IdState.sent;
    this.inFlight++;
    this.next = id === MAX_PACKET_ID ? 1 : id + 1;
    return id;
  }

  /** The state of `id` (any number; ids outside 1..65,535 are free). */
  stateOf(id: number): IdState {
    return id >= 1 && id <= MAX_PACKET_ID ? (this.states[id] as IdState) : IdState.free;
  }

  /** QoS 2: PUBREC came and PUBREL went; the id stays in flight until PUBCOMP. */
  markReleased(id: number): void {
    if (this.stateOf(id) !== IdState.free) this.states[id] = IdState.released;
  }

  /** The flow of `id` completed; returns false when `id` was not in flight. */
  release(id: number): boolean {
    if (this.stateOf(id) === IdState.free) return false;
    this.states[id] = IdState.free;
    this.inFlight--;
    return true;
  }
}
