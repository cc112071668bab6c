/**
 * What an attack is and what it reports. An attack runs in a process of its own against a broker's address, and
 * says how many bytes its clients had in flight (sent, and not yet finished with by the broker) and whatever else it
 * measured; the benchmark adds the broker's memory and delays around it.
 */

export interface AttackTarget {
  host: string;
  port: number;
  /** Bytes each trickling client sends one byte per write (attack "trickle"). */
  trickleBytes: number;
}

/** One figure an attack measured, with the bound the bundled broker must keep, if there is one. */
export interface Fact {
  /** e.g. "closed after", "lost", "next CONNACK". */
  label: string;
  /** null: the awaited thing did not happen within the attack's wait. */
  value: number | null;
  unit: 'ms' | 's' | 'count' | 'MiB';
  /** The bundled broker's goal: the value is at most this (and not null). */
  atMost?: number;
  /** What a null value means, e.g. "still open after 12 s". */
  missing?: string;
}

export interface AttackOutcome {
  /**
   * The most bytes the attackers had sent at any one time that the broker legitimately still holds or has not yet
   * confirmed handling: what it keeps (wills, subscriptions, retained messages, unfinished packets) or what a
   * PINGREQ/PUBACK has not yet confirmed it read.
   */
  inFlightBytes: number;
  facts: Fact[];
  notes: string[];
  /**
   * Why the memory goal does not apply to this attack, when what the attackers make the broker keep is state that
   * costs any broker far more than its size on the wire (reported, not judged).
   */
  rssGoalWaived?: string;
}

export interface Attack {
  name: string;
  title: string;
  run(target: AttackTarget): Promise<AttackOutcome>;
}
