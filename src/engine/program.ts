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
  private readonly frames: Frame[] = [];

  constructor(steps: Step[]) {
    this.frames.push({ steps, pc: 0, times: 1, endUs: Infinity });
  }

  /** The next step to run at `nowUs` (never a `repeat`: its body is entered), or null when the program is over. */
  next(nowUs: number): Exclude<Step, { kind: 'repeat' }> | null {
    for (;;) {
      const frame = this.frames[this.frames.length - 1];
      if (frame === undefined) return null;
      if (frame.pc >= frame.steps.length || nowUs >= frame.endUs) {
        frame.times--;
        if (frame.pc >= frame.steps.length && frame.times > 0 && nowUs < frame.endUs) {
          frame.pc = 0;
          continue;
        }
        this.frames.pop();
        continue;
      }
      const step = frame.steps[frame.pc++];
      if (step.kind !== 'repeat') return step;
      this.frames.push({
        steps: step.steps,
        pc: 0,
        times: step.times ?? Infinity,
        endUs: step.durationMs !== undefined ? nowUs + step.durationMs * 1000 : Infinity,
      });
    }
  }

  /** Drop what is left (the client gave up). */
  clear(): void {
    this.frames.length = 0;
  }
}
