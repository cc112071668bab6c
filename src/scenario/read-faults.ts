/**
 * The `faults:` list: broker-wide events at given times of a run (`kill-broker`, `restart-broker`), each checked with
 * file:line:col, in time order, and only for a broker mqbench starts (it cannot restart anyone else's).
 */
import type { ReadContext } from './reader.js';
import { FAULT_ACTIONS, MAX_FAULTS, type BrokerSettings, type Fault, type FaultAction } from './schema.js';
import type { Place, RawNode } from './source-tree.js';

const FAULT_KEYS = ['at', 'action', 'down'];
const FAULT_SYNONYMS: Record<string, string> = {
  time: 'at',
  after: 'at',
  when: 'at',
  type: 'action',
  fault: 'action',
  do: 'action',
  downtime: 'down',
  for: 'down',
  pause: 'down',
  wait: 'down',
};
/** Words people write for an action, and the action meant. */
const ACTION_HINTS: Record<string, FaultAction> = {
  kill: 'kill-broker',
  'kill-9': 'kill-broker',
  sigkill: 'kill-broker',
  crash: 'kill-broker',
  restart: 'restart-broker',
  sigterm: 'restart-broker',
  stop: 'restart-broker',
  'stop-broker': 'restart-broker',
};

/**
 * `faults:` (absent: none), written under the key at `keyPlace`. `durationMs` bounds when a fault may happen;
 * `fromCommandLine` says the broker came from `--broker`, for the message refusing a broker mqbench does not start.
 */
export function readFaults(
  ctx: ReadContext,
  node: RawNode,
  keyPlace: Place,
  broker: BrokerSettings,
  durationMs: number | undefined,
  fromCommandLine: boolean,
): Fault[] {
  const items = ctx.r.list(node, 'faults');
  if (items === undefined) return [];
  const faults: Fault[] = [];
  for (const item of items) {
    const fault = readFault(ctx, item);
    if (fault !== undefined) faults.push(fault);
  }
  if (items.length > MAX_FAULTS) ctx.problems.at(items[MAX_FAULTS].place, `a scenario has at most ${MAX_FAULTS} faults, got ${items.length}`);
  for (let i = 1; i < faults.length; i++) {
    const before = faults[i - 1];
    const f = faults[i];
    if (f.atMs <= before.atMs + before.downMs) {
      const place = { file: node.place.file, line: f.at.line, col: f.at.col };
      ctx.problems.at(
        place,
        `faults happen one after another: this one (at ${ms(f.atMs)}) must come after the one before it is over (at ${ms(before.atMs)}` +
          `${before.downMs > 0 ? `, down for ${ms(before.downMs)}` : ''})`,
        'list faults in time order, each after the previous one and its down time',
      );
    }
  }
  if (durationMs !== undefined) {
    for (const f of faults) {
      if (f.atMs < durationMs) continue;
      ctx.problems.at({ file: node.place.file, line: f.at.line, col: f.at.col }, `this fault (at ${ms(f.atMs)}) would come after the run's duration (${ms(durationMs)}) has ended`);
    }
  }
  const target = broker.target;
  if (items.length > 0 && target.kind === 'remote') {
    ctx.problems.at(
      keyPlace,
      `faults stop and start the broker, which mqbench can do only for a broker it starts itself (bundled, mosquitto, aedes); ` +
        `${fromCommandLine ? 'the --broker given is' : "this scenario's broker is"} ${target.url}`,
      'run it with --broker bundled or --broker mosquitto, or leave faults out to run against that broker',
    );
  }
  return faults;
}

function readFault(ctx: ReadContext, node: RawNode): Fault | undefined {
  const m = ctx.r.map(node, 'a fault', FAULT_KEYS, 'in a fault', FAULT_SYNONYMS);
  if (m === undefined) return undefined;
  const atNode = m.take('at');
  const actionNode = m.take('action');
  const downNode = m.take('down');
  m.finish();
  if (atNode === undefined) ctx.problems.at(node.place, 'a fault needs at: the time of the run it happens', 'e.g. { at: 5s, action: kill-broker }');
  if (actionNode === undefined) ctx.problems.at(node.place, `a fault needs action: ${FAULT_ACTIONS.join(' or ')}`, 'e.g. { at: 5s, action: kill-broker }');
  const atMs = atNode === undefined ? undefined : ctx.r.duration(atNode, 'at');
  const action = actionNode === undefined ? undefined : readAction(ctx, actionNode);
  const downMs = downNode === undefined ? 0 : ctx.r.duration(downNode, 'down');
  if (atMs === undefined || action === undefined || downMs === undefined) return undefined;
  return { action, atMs, downMs, at: { line: node.place.line, col: node.place.col } };
}

function readAction(ctx: ReadContext, node: RawNode): FaultAction | undefined {
  if (node.kind === 'scalar' && typeof node.value === 'string' && (FAULT_ACTIONS as readonly string[]).includes(node.value)) return node.value as FaultAction;
  const word = node.kind === 'scalar' && typeof node.value === 'string' ? node.value.trim().toLowerCase() : undefined;
  const meant = word === undefined ? undefined : ACTION_HINTS[word];
  if (meant !== undefined) {
    ctx.problems.at(
      node.place,
      `action must be ${FAULT_ACTIONS.join(' or ')}, got "${word}"`,
      meant === 'kill-broker' ? 'kill-broker sends SIGKILL (kill -9), then starts the broker again' : 'restart-broker sends SIGTERM, then starts the broker again',
    );
    return undefined;
  }
  return ctx.r.oneOf(node, 'action', FAULT_ACTIONS);
}

function ms(n: number): string {
  return n % 1000 === 0 ? `${n / 1000}s` : `${n}ms`;
}
