/**
 * Checks that a group's steps make sense in order: connected before publishing, not connecting twice, something
 * to unsubscribe from, no step stuck behind one that never ends, and a run that ends at all. Also resolves a bare
 * `unsubscribe` to the filters subscribed before it.
 */
import type { Problems } from './reader.js';
import type { ProtocolVersion, Step } from './schema.js';
import type { Template } from './templates.js';

export interface FlowOptions {
  file: string;
  protocolVersion: ProtocolVersion;
  /** The scenario has a duration, so steps that run "until the end" do end. */
  runHasDuration: boolean;
  /** Every client id of the group is empty (the broker assigns one). */
  emptyClientId: boolean;
  /** Some steps could not be read; what they would have subscribed to is unknown. */
  incomplete: boolean;
}

interface FlowState {
  connected: boolean;
  /** The session outlives the connection (clean: false, or a session expiry in MQTT 5). */
  persistent: boolean;
  subscribed: Template[];
}

export function checkFlow(steps: Step[], opts: FlowOptions, problems: Problems): void {
  const seen = new Set<string>();
  const report = (step: Step, message: string, hint?: string): void => {
    const key = `${step.at.line}:${step.at.col}:${message}`;
    if (seen.has(key)) return;
    seen.add(key);
    problems.at({ file: opts.file, line: step.at.line, col: step.at.col }, message, hint);
  };
  walk(steps, { connected: false, persistent: false, subscribed: [] }, opts, report, '');
  checkEndings(steps, opts, report);
}

type Report = (step: Step, message: string, hint?: string) => void;

function walk(steps: Step[], state: FlowState, opts: FlowOptions, report: Report, context: string): FlowState {
  let s = state;
  for (const step of steps) {
    switch (step.kind) {
      case 'connect': {
        if (s.connected) {
          report(step, `connect while already connected${context}`, 'add a disconnect step before it');
        }
        if (opts.emptyClientId && !step.clean && opts.protocolVersion === 4) {
          report(step, 'an empty client id needs clean: true in MQTT 3.1.1 [MQTT-3.1.3-7]', 'give the clients ids, or connect with clean: true');
        }
        // A clean start drops whatever the broker kept. In MQTT 5 the session outlives the connection only with a
        // session expiry; in 3.1/3.1.1, whenever clean is false.
        s = {
          connected: true,
          persistent: opts.protocolVersion === 5 ? step.sessionExpirySec > 0 : !step.clean,
          subscribed: step.clean ? [] : s.subscribed,
        };
        break;
      }
      case 'disconnect':
        if (!s.connected) report(step, `disconnect before connect${context}`, 'add a connect step before it');
        s = { connected: false, persistent: s.persistent, subscribed: s.persistent ? s.subscribed : [] };
        break;
      case 'subscribe':
        if (!s.connected) report(step, `subscribe before connect${context}`, 'add a connect step before it');
        s = { ...s, subscribed: [...s.subscribed, ...step.subscriptions.map((x) => x.filter)] };
        break;
      case 'unsubscribe': {
        if (!s.connected) report(step, `unsubscribe before connect${context}`, 'add a connect step before it');
        if (step.filters.length === 0) {
          if (s.subscribed.length === 0 && !opts.incomplete) {
            report(step, `unsubscribe with no topics, and nothing is subscribed before it${context}`, 'name the topics: unsubscribe: { topics: [a/#] }');
          } else {
            step.filters = dedupe(s.subscribed);
          }
        }
        const gone = new Set(step.filters.map((f) => f.source));
        s = { ...s, subscribed: s.subscribed.filter((f) => !gone.has(f.source)) };
        break;
      }
      case 'publish':
        if (!s.connected) report(step, `publish before connect${context}`, 'add a connect step before it');
        break;
      case 'wait':
        break;
      case 'repeat': {
        const where = ` (in the repeat at line ${step.at.line})`;
        const once = walk(step.steps, s, opts, report, context || where);
        if (once.connected !== s.connected && step.times !== 1) {
          // The second time round starts where the first ended; that is where "connect while connected" shows.
          walk(step.steps, once, opts, report, ` (on the second time round the repeat at line ${step.at.line})`);
        }
        s = once;
        break;
      }
    }
  }
  return s;
}

function dedupe(filters: Template[]): Template[] {
  const seen = new Set<string>();
  return filters.filter((f) => (seen.has(f.source) ? false : (seen.add(f.source), true)));
}

/** A step that only stops when the run does. */
function endless(step: Step): boolean {
  if (step.kind === 'publish') return step.count === undefined && step.durationMs === undefined;
  if (step.kind === 'repeat') return (step.times === undefined && step.durationMs === undefined) || step.steps.some(endless);
  return false;
}

function checkEndings(steps: Step[], opts: FlowOptions, report: Report): void {
  let blocker: Step | undefined;
  for (const step of steps) {
    if (blocker) {
      report(
        step,
        `${step.kind} never runs: the ${blocker.kind} at line ${blocker.at.line} runs until the end of the run`,
        blocker.kind === 'publish' ? 'give that publish a count or a duration' : 'give that repeat times or a duration',
      );
      break;
    }
    if (step.kind === 'repeat') checkEndings(step.steps, opts, report);
    if (endless(step)) {
      blocker = step;
      if (!opts.runHasDuration && (step.kind === 'publish' || (step.kind === 'repeat' && step.times === undefined && step.durationMs === undefined))) {
        report(
          step,
          `${step.kind} has no ${step.kind === 'publish' ? 'count or duration' : 'times or duration'} and the scenario has no duration, so the run would never end`,
          `add ${step.kind === 'publish' ? 'count: or duration:' : 'times: or duration:'} here, or duration: at the top of the scenario`,
        );
      }
    }
  }
}
