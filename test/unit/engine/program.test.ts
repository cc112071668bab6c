/**
 * The step program against a plain model of nested `repeat` frames (a stack of frames, as the scenario format
 * defines it): the same steps in the same order, for any nesting, repetition count and duration.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { StepProgram } from '../../../src/engine/program.js';
import type { Step } from '../../../src/scenario/schema.js';

interface Leaf {
  kind: 'wait';
  id: number;
}
interface Repeat {
  kind: 'repeat';
  steps: Node[];
  times?: number;
  durationMs?: number;
}
type Node = Leaf | Repeat;

/** The model: a stack of frames, exactly as the format reads. */
function modelRun(steps: Node[], clock: () => number): number[] {
  const out: number[] = [];
  const frames = [{ steps, pc: 0, times: 1, endUs: Infinity }];
  // The time is read once per step asked for, as the engine asks the program at one moment.
  let now = clock();
  for (let guard = 0; guard < 10_000; guard++) {
    const f = frames[frames.length - 1];
    if (f === undefined) return out;
    if (f.pc >= f.steps.length || now >= f.endUs) {
      f.times--;
      if (f.pc >= f.steps.length && f.times > 0 && now < f.endUs) {
        f.pc = 0;
        continue;
      }
      frames.pop();
      continue;
    }
    const s = f.steps[f.pc++];
    if (s.kind === 'wait') {
      out.push(s.id);
      now = clock();
    } else if (s.steps.length > 0) frames.push({ steps: s.steps, pc: 0, times: s.times ?? Infinity, endUs: s.durationMs !== undefined ? now + s.durationMs * 1000 : Infinity });
  }
  return out;
}

function programRun(steps: Node[], clock: () => number): number[] {
  const p = new StepProgram(steps as unknown as Step[]);
  const out: number[] = [];
  for (let guard = 0; guard < 10_000; guard++) {
    const s = p.next(clock()) as unknown as Leaf | null;
    if (s === null) return out;
    out.push(s.id);
  }
  return out;
}

let nextId = 0;
const leaf = fc.constant(null).map((): Leaf => ({ kind: 'wait', id: nextId++ }));
const tree = fc.letrec<{ node: Node; nodes: Node[] }>((tie) => ({
  node: fc.oneof({ depthSize: 'small', withCrossShrink: true }, leaf, tie('repeat') as fc.Arbitrary<Node>),
  repeat: fc
    .record({
      steps: tie('nodes') as fc.Arbitrary<Node[]>,
      // As the reader allows: times from 1, durations above zero.
      times: fc.option(fc.integer({ min: 1, max: 4 }), { nil: undefined }),
      durationMs: fc.option(fc.integer({ min: 1, max: 5 }), { nil: undefined }),
    })
    // A repeat with neither bound runs until the run ends: give it a duration so the run ends.
    .map((r): Repeat => ({ kind: 'repeat', steps: r.steps, times: r.times, durationMs: r.times === undefined && r.durationMs === undefined ? 3 : r.durationMs })),
  // Every body has a step, as the scenario reader requires (an empty `steps` is refused).
  nodes: fc.array(tie('node') as fc.Arbitrary<Node>, { minLength: 1, maxLength: 4 }),
}));

describe('StepProgram', () => {
  it('runs the same steps in the same order as the model, for any nesting, counts and durations', () => {
    fc.assert(
      fc.property(tree.nodes, (steps) => {
        // A clock that advances a millisecond per step asked for: durations end part way.
        let a = 0;
        let b = 0;
        expect(programRun(steps, () => (a += 1000))).toEqual(modelRun(steps, () => (b += 1000)));
      }),
      { numRuns: 500 },
    );
  });

  it('enters a repeat, comes back out to the step after it, and ends', () => {
    const s = (id: number): Leaf => ({ kind: 'wait', id });
    const steps: Node[] = [s(1), { kind: 'repeat', times: 2, steps: [s(2), { kind: 'repeat', times: 2, steps: [s(3)] }] }, s(4)];
    expect(programRun(steps, () => 0)).toEqual([1, 2, 3, 3, 2, 3, 3, 4]);
  });

  it('passes over a repeat with an empty body instead of spinning on it', () => {
    const steps: Node[] = [{ kind: 'repeat', durationMs: 5, steps: [] }, { kind: 'wait', id: 7 }];
    expect(programRun(steps, () => 0)).toEqual([7]);
  });

  it('gives nothing more once cleared', () => {
    const p = new StepProgram([{ kind: 'wait', id: 1 }] as unknown as Step[]);
    p.clear();
    expect(p.next(0)).toBeNull();
  });
});
