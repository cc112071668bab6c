/**
 * A group's steps as a program a simulated client runs: which step comes next, through `repeat` blocks that run a
 * number of times or for a duration (or until the run ends).
 */
import type { Step } from '../scenario/schema.js';

interface Frame {
  steps: Step[];
  pc: number;
  /** Repetitions left including the current one (Infinity: until the run ends). */
  times: number;
  endUs: number;
}

export class StepProgram {
  /**
   * The innermost frame. The frames it is nested in (outer `repeat` levels, then the group's steps) wait in
   * `outer`, which exists only once a `repeat` is entered: most clients never make it.
   */
  private steps: Step[] | null;
  private pc = 0;
  private times = 1;
  private endUs = Infinity;
  private outer: Frame[] | null = null;

  constructor(steps: Step[]) {
    this.steps = steps;
  }

  /** The next step to run at `nowUs` (never a `repeat`: its body is entered), or null when the program is over. */
  next(nowUs: number): Exclude<Step, { kind: 'repeat' }> | null {
    for (;;) {
      const steps = this.steps;
      if (steps === null) return null;
      if (this.pc >= steps.length || nowUs >= this.endUs) {
        this.times--;
        if (this.pc >= steps.length && this.times > 0 && nowUs < this.endUs) {
          this.pc = 0;
          continue;
        }
        this.pop();
        continue;
      }
      const step = steps[this.pc++];
      if (step.kind !== 'repeat') return step;
      // The scenario reader refuses an empty body; skipping one here keeps this loop from spinning on it regardless.
      if (step.steps.length === 0) continue;
      (this.outer ??= []).push({ steps, pc: this.pc, times: this.times, endUs: this.endUs });
      this.steps = step.steps;
      this.pc = 0;
      this.times = step.times ?? Infinity;
      this.endUs = step.durationMs !== undefined ? nowUs + step.durationMs * 1000 : Infinity;
    }
  }

  /** Drop what is left (the client gave up). */
  clear(): void {
    this.steps = null;
    this.outer = null;
  }

  /** Leave the innermost frame for the one around it. */
  private pop(): void {
    const f = this.outer?.pop();
    if (f === undefined) {
      this.steps = null;
      return;
    }
    this.steps = f.steps;
    this.pc = f.pc;
    this.times = f.times;
    this.endUs = f.endUs;
  }
}
