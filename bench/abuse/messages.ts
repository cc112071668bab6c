/** Messages between bench:abuse and the process that runs one attack (bench/abuse/attack-child.ts). */
import type { AttackOutcome, AttackTarget } from './attack.js';

export interface ToAttackChild {
  type: 'run';
  attack: string;
  target: AttackTarget;
}

export type FromAttackChild = { type: 'result'; outcome: AttackOutcome } | { type: 'error'; message: string };
