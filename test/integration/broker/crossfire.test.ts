/**
 * Property test of flow control under load: two or three clients publish QoS 1 to each other at once (fan-in,
 * both ways, rings), pipelined, each acknowledging what it receives while keeping the last few unacknowledged
 * (test/helpers/crossfire.ts). Every message the broker acknowledged to its publisher must reach its receiver, which
 * stays connected and keeps acknowledging throughout.
 *
 * The bundled broker promises exactly that even when a queue limit is reached (it holds a publisher back rather than
 * drop a message that goes to nobody else; README, "Where it differs from Mosquitto"). Mosquitto 2.0.11 drops what
 * exceeds max_inflight_messages + max_queued_messages, as configured, so for it only that excess may be missing.
 *
 * npm test stops at the first failing case (no shrinking: a failing case waits out the broker's stall timer).
 *   MQBENCH_CROSSFIRE_SEED / _RUNS / _PATH   as for the other properties;  MQBENCH_CROSSFIRE_SHRINK=1 to shrink
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { startTestBroker, testBrokerKinds, type BrokerKind } from '../../helpers/brokers.js';
import { bothWays, crossfire, type Flow } from '../../helpers/crossfire.js';
import { propertyBudget, propertyParams } from '../../helpers/property.js';
import { uniqueName, type ProtocolVersion } from '../../helpers/raw-client.js';

/** Runs per broker in `npm test` (a passing bundled run is quick; a Mosquitto run waits out the messages it drops). */
const RUNS: Record<BrokerKind, number> = { bundled: 15, mosquitto: 5 };

interface Case {
  version: ProtocolVersion;
  clients: number;
  flows: Flow[];
  lag: number;
  window: number;
  queue: number;
}

const caseArb: fc.Arbitrary<Case> = fc
  .record({
    version: fc.constantFrom<ProtocolVersion>(4, 5),
    clients: fc.constantFrom(2, 3),
    flows: fc.array(
      fc.record({ from: fc.nat({ max: 2 }), to: fc.nat({ max: 2 }), count: fc.integer({ min: 1, max: 150 }) }),
      { minLength: 1, maxLength: 4 },
    ),
    lag: fc.integer({ min: 0, max: 40 }),
    window: fc.constantFrom(4, 20),
    queue: fc.constantFrom(10, 100),
  })
  .map((c) => ({ ...c, flows: c.flows.map((f) => ({ ...f, from: f.from % c.clients, to: f.to % c.clients })) }))
  // A client does not publish to its own inbox.
  .filter((c) => c.flows.every((f) => f.from !== f.to));

/** How many acknowledged messages to a receiver the broker may fail to deliver. */
function allowedLoss(kind: BrokerKind, c: Case, receiver: number): number {
  if (kind !== 'mosquitto') return 0;
  const incoming = c.flows.filter((f) => f.to === receiver).reduce((n, f) => n + f.count, 0);
  return Math.max(0, incoming - c.window - c.queue);
}

async function runCase(kind: BrokerKind, c: Case): Promise<void> {
  const broker = await startTestBroker(kind, [`max_inflight_messages ${c.window}`, `max_queued_messages ${c.queue}`]);
  try {
    const result = await crossfire(broker, { ...c, idleMs: 1_500, prefix: uniqueName('xf') });
    expect(result.unacknowledged, 'PUBACKs still missing per client').toEqual(result.unacknowledged.map(() => 0));
    for (const [i, inbox] of result.inboxes.entries()) {
      expect(inbox.duplicated, `${inbox.clientId}: messages delivered twice without DUP`).toBe(0);
      const allowed = allowedLoss(kind, c, i);
      if (inbox.lost.length > allowed) {
        throw new Error(
          `${inbox.clientId}: ${inbox.lost.length} of ${inbox.acknowledged} acknowledged messages to it never arrived ` +
            `(allowed ${allowed}); first lost: ${inbox.lost.slice(0, 5).join(', ')}`,
        );
      }
    }
  } finally {
    await broker.stop();
  }
}

describe.each(testBrokerKinds())('%s broker: clients publishing to each other', (kind) => {
  const budget = propertyBudget('MQBENCH_CROSSFIRE', RUNS[kind], 5_000);
  it(
    'every message acknowledged to its publisher reaches a receiver that keeps acknowledging',
    async () => {
      const shrink = process.env.MQBENCH_CROSSFIRE_SHRINK === '1';
      await fc.assert(
        fc.asyncProperty(caseArb, (c) => runCase(kind, c)),
        propertyParams({ numRuns: budget.runs, endOnFailure: !shrink, timeLimitMs: budget.timeLimitMs }, 'MQBENCH_CROSSFIRE'),
      );
    },
    budget.testTimeoutMs,
  );
});

describe.each(testBrokerKinds())('%s broker: crossfire regressions found by the property', (kind) => {
  it('two 3.1.1 clients each sending 15 QoS 1 messages to the other, acknowledging at once, with a window of 4 and a queue of 10', async () => {
    // Shrunk counterexample: one message over what the queue holds holds its publisher back, which stops the broker
    // reading that client's PUBACKs too; both sides wait on each other until the stall timer drops the message.
    // Mosquitto drops that one message too, as its queue limit allows.
    await runCase(kind, { version: 4, clients: 2, flows: bothWays(15), lag: 0, window: 4, queue: 10 });
  }, 30_000);

  it('three 3.1.1 clients in a ring (0 → 1 → 2 → 0) each sending 15 QoS 1 messages, with a window of 4 and a queue of 10', async () => {
    // The same hold-back through a longer cycle: a fix that only looks at pairs of clients is not enough.
    const ring = [0, 1, 2].map((from) => ({ from, to: (from + 1) % 3, count: 15 }));
    await runCase(kind, { version: 4, clients: 3, flows: ring, lag: 0, window: 4, queue: 10 });
  }, 30_000);
});
