/**
 * Fuzz connections over real sockets: each lane opens one planned connection after another and plays its writes;
 * many lanes run at once. Counts what was sent and how the broker answered the connections it must refuse.
 */
import { connect as netConnect } from 'node:net';
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises';
import { waitForEvent } from '../harness/socket-events.js';
import { PLAN_KINDS, planConnection, type ConnectionPlan, type PlanKind } from './connection-plans.js';
import { describePacket } from './fuzz-packets.js';
import type { Prng } from './prng.js';

const CONNECT_TIMEOUT_MS = 3_000;
/** A broker must close a connection whose first byte is not CONNECT at once; this is generous. */
export const GARBAGE_CLOSE_MS = 2_000;
const REPLY_WAIT_MS = 1_000;
const DRAIN_WAIT_MS = 1_000;
/** Time the broker gets to object to the last packets before the fuzzer hangs up. */
const LAST_WORDS_MS = 30;
/** Examples kept of each kind of problem; the counters count them all. */
const EXAMPLES_KEPT = 20;

export interface FuzzStats {
  connections: number;
  packetsWritten: number;
  bytesWritten: number;
  /** Connections the broker closed before the fuzzer hung up. */
  closedByBroker: number;
  /** Connections that stopped early because the broker stopped reading them (a flood held back). */
  heldBack: number;
  garbageFirst: number;
  /** Connections opened with a non-CONNECT first byte that the broker left open, and the first few of them
   * ("lane/index kind packet first-bytes"). */
  garbageLeftOpenCount: number;
  garbageLeftOpen: string[];
  /** Connections that could not even be opened, and the first few of them. */
  connectFailed: number;
  connectFailures: string[];
  /** Connections opened, per plan kind. */
  byKind: Record<PlanKind, number>;
}

export function emptyStats(): FuzzStats {
  return {
    connections: 0,
    packetsWritten: 0,
    bytesWritten: 0,
    closedByBroker: 0,
    heldBack: 0,
    garbageFirst: 0,
    garbageLeftOpenCount: 0,
    garbageLeftOpen: [],
    connectFailed: 0,
    connectFailures: [],
    byKind: Object.fromEntries(PLAN_KINDS.map((k) => [k, 0])) as Record<PlanKind, number>,
  };
}

export interface LaneTarget {
  host: string;
  port: number;
  root: Prng;
  kinds: readonly PlanKind[];
  stats: FuzzStats;
  /** True when the lanes should stop starting connections (target reached, deadline, or told to). */
  done: () => boolean;
}

/** Runs `lanes` lanes until target.done(); resolves when every lane has hung up its last connection. */
export async function runLanes(target: LaneTarget, lanes: number): Promise<void> {
  await Promise.all(Array.from({ length: lanes }, (_, lane) => runLane(target, lane)));
}

async function runLane(target: LaneTarget, lane: number): Promise<void> {
  for (let index = 0; !target.done(); index++) {
    await runConnection(target, planConnection(target.root, lane, index, target.kinds));
  }
}

async function runConnection(target: LaneTarget, plan: ConnectionPlan): Promise<void> {
  const { stats } = target;
  const first = plan.packets[0];
  const label = `${plan.lane}/${plan.index} ${plan.kind}` + (first ? ` ${describePacket(first)} ${first.bytes.subarray(0, 8).toString('hex')}` : '');
  const socket = netConnect({ host: target.host, port: target.port });
  socket.setNoDelay(true);
  let connected = false;
  let closed = false;
  let hungUp = false;
  if (plan.reads) socket.on('data', () => {});
  // Writes after the broker has closed fail with EPIPE or ECONNRESET; that is the expected outcome.
  socket.on('error', () => {});
  socket.on('close', () => {
    closed = true;
    if (connected && !hungUp) stats.closedByBroker++;
  });
  if ((await waitForEvent(socket, ['connect', 'close'], CONNECT_TIMEOUT_MS)) !== 'connect') {
    stats.connectFailed++;
    if (stats.connectFailures.length < EXAMPLES_KEPT) stats.connectFailures.push(label);
    socket.destroy();
    return;
  }
  connected = true;
  stats.connections++;
  stats.byKind[plan.kind]++;
  if (!plan.reads) socket.pause();
  if (plan.firstByteNotConnect) stats.garbageFirst++;

  let lastWrite: Promise<void> | undefined;
  for (let i = 0; i < plan.writes.length && !closed; i++) {
    const w = plan.writes[i];
    if (w.yieldBefore) {
      await nextTurn();
      if (closed) break;
    }
    let flushed: boolean;
    if (i === plan.writes.length - 1) {
      let resolveLast = (): void => {};
      lastWrite = new Promise((resolve) => (resolveLast = resolve));
      flushed = socket.write(w.bytes, () => resolveLast());
    } else {
      flushed = socket.write(w.bytes);
    }
    stats.packetsWritten += w.packetsDone;
    stats.bytesWritten += w.bytes.length;
    if (w.awaitReply && plan.reads) {
      await waitForEvent(socket, ['data', 'close'], REPLY_WAIT_MS);
    } else if (!flushed) {
      // A broker that stops reading a connection is within its rights; stop feeding that one.
      if ((await waitForEvent(socket, ['drain', 'close'], DRAIN_WAIT_MS)) === 'timeout') {
        stats.heldBack++;
        break;
      }
    }
  }

  if (plan.firstByteNotConnect) {
    if (!closed) await waitForEvent(socket, ['close'], GARBAGE_CLOSE_MS);
    if (!closed && stats.garbageLeftOpen.length < EXAMPLES_KEPT) stats.garbageLeftOpen.push(label);
    if (!closed) stats.garbageLeftOpenCount++;
  } else if (!closed) {
    if (lastWrite) await Promise.race([lastWrite, sleep(DRAIN_WAIT_MS)]);
    await waitForEvent(socket, ['close'], Math.max(plan.holdMs, LAST_WORDS_MS));
  }
  if (closed) return;
  hungUp = true;
  if (plan.hangUp === 'destroy') {
    socket.destroy();
    return;
  }
  socket.end();
  if ((await waitForEvent(socket, ['close'], 1_000)) === 'timeout') socket.destroy();
}
