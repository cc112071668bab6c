/**
 * One measurement of one attack on one broker: a fresh broker process, its memory from /proc before, at the peak and
 * after the attackers have left, a PINGREQ probe throughout, the broker's own event-loop delay where it reports it,
 * and the attack itself in a process of its own.
 */
import { fork } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { crashExcerpt, firstErrorLine, startWatchedBroker, type WatchedBrokerKind } from '../harness/broker.js';
import { forget, remember } from '../harness/children.js';
import { compiledEntry } from '../harness/compiled.js';
import { PingProbe } from '../harness/ping-probe.js';
import { RssWatch } from '../harness/rss.js';
import type { Attack, AttackOutcome, AttackTarget, Fact } from './attack.js';
import type { FromAttackChild, ToAttackChild } from './messages.js';

export interface AbuseRecord {
  attack: string;
  broker: WatchedBrokerKind;
  brokerLabel: string;
  round: number;
  rssBeforeBytes: number | null;
  rssPeakBytes: number | null;
  /** Resident size a second after the attackers left; null when the broker was gone. */
  rssAfterBytes: number | null;
  inFlightBytes: number | null;
  /** Longest PINGREQ → PINGRESP during the attack and the second after it. */
  pingMaxMs: number | null;
  /** The broker's own longest event-loop delay over the same time; null where the broker cannot report it. */
  loopMaxMs: number | null;
  /** How the broker process ended on its own ("exited with code 1"), or null. */
  crash: string | null;
  crashLines: string | null;
  facts: Fact[];
  notes: string[];
  rssGoalWaived: string | null;
  /** The first lines the broker logged during the attack (it logs errors only). */
  brokerSaid: string[];
  /** Why the attack could not finish, if it could not. */
  error: string | null;
}

export interface MeasureOptions {
  conf: string[];
  trickleBytes: number;
}

/** Broker idle before the attack, for a steady baseline. */
const SETTLE_MS = 500;
/** After the attackers leave, before "after" is read. */
const AFTER_MS = 1_000;
const ATTACK_LIMIT_MS = 180_000;
/** After a crash, the attack's own timeouts end it; it gets this long to say what it saw. */
const CRASH_GRACE_MS = 5_000;

export async function measure(attack: Attack, kind: WatchedBrokerKind, round: number, options: MeasureOptions): Promise<AbuseRecord> {
  const broker = await startWatchedBroker(kind, options.conf);
  const rss = new RssWatch(broker.pid);
  const record: AbuseRecord = {
    attack: attack.name,
    broker: kind,
    brokerLabel: broker.label,
    round,
    rssBeforeBytes: null,
    rssPeakBytes: null,
    rssAfterBytes: null,
    inFlightBytes: null,
    pingMaxMs: null,
    loopMaxMs: null,
    crash: null,
    crashLines: null,
    facts: [],
    notes: [],
    rssGoalWaived: null,
    brokerSaid: [],
    error: null,
  };
  let ping: PingProbe | undefined;
  try {
    try {
      ping = await PingProbe.start(broker.host, broker.port, 'mqbench-abuse-ping');
    } catch (err) {
      record.error = `the ping probe could not connect before the attack: ${(err as Error).message}`;
      return record;
    }
    await sleep(SETTLE_MS);
    record.rssBeforeBytes = rss.now() ?? null;
    const logBefore = broker.output();
    const loop = broker.loopDelay?.window();
    ping.reset();
    const target: AttackTarget = { host: broker.host, port: broker.port, trickleBytes: options.trickleBytes };
    const attackRun = runAttack(attack.name, target);
    // Settles with the outcome, or with the error message.
    const settled = attackRun.then(
      (outcome) => ({ outcome, error: undefined }),
      (err: Error) => ({ outcome: undefined, error: err.message }),
    );
    const first = await Promise.race([settled, broker.crashed.then(() => undefined)]);
    const result = first ?? (await Promise.race([settled, sleep(CRASH_GRACE_MS).then(() => undefined)]));
    attackRun.stop();
    if (result?.outcome) {
      record.inFlightBytes = result.outcome.inFlightBytes;
      record.facts = result.outcome.facts;
      record.notes = result.outcome.notes;
      record.rssGoalWaived = result.outcome.rssGoalWaived ?? null;
    } else if (result?.error) {
      record.error = result.error;
    } else {
      record.error = 'the attack did not finish after the broker died';
    }
    if (broker.crash() === undefined) await Promise.race([sleep(AFTER_MS), broker.crashed]);
    record.rssAfterBytes = rss.now() ?? null;
    record.rssPeakBytes = rss.peak() || null;
    record.loopMaxMs = loop?.close() ?? null;
    record.pingMaxMs = ping.longestMs();
    record.brokerSaid = newLogLines(logBefore, broker.output());
    const crash = broker.crash();
    if (crash !== undefined) {
      record.crash = `${crash}${why(broker.output())}`;
      record.crashLines = crashExcerpt(broker.output());
    }
    return record;
  } finally {
    ping?.stop();
    rss.stop();
    await broker.stop();
  }
}

/** " (RangeError: …)" from a dead process's log, or nothing. */
function why(log: string): string {
  const line = firstErrorLine(log);
  return line ? ` (${line})` : '';
}

/** The first few distinct lines logged after `before`, stack frames left out. */
function newLogLines(before: string, now: string): string[] {
  const added = now.startsWith(before) ? now.slice(before.length) : now.slice(-4_000);
  const lines = added
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('at '));
  return [...new Set(lines)].slice(0, 3).map((l) => (l.length > 200 ? `${l.slice(0, 200)}…` : l));
}

type AttackRun = Promise<AttackOutcome> & { stop(): void };

/** The attack in a child process; `stop()` kills it if it is still running. */
function runAttack(name: string, target: AttackTarget): AttackRun {
  const child = fork(compiledEntry('./attack-child.js', import.meta.url), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const pid = child.pid!;
  remember(pid);
  const stop = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    forget(pid);
  };
  const done = new Promise<AttackOutcome>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the attack did not finish within ${ATTACK_LIMIT_MS / 1000} s`)), ATTACK_LIMIT_MS);
    child.on('message', (message: FromAttackChild) => {
      clearTimeout(timer);
      if (message.type === 'result') resolve(message.outcome);
      else reject(new Error(message.message));
    });
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`the attack process exited with ${signal ?? `code ${code}`} before reporting`));
    });
  });
  child.send({ type: 'run', attack: name, target } satisfies ToAttackChild);
  return Object.assign(done, { stop });
}
