/**
 * One guard for every entry into the broker: an exception while serving one client — in a packet handler, in a
 * socket's close handler routing a will, in a will-delay or session-expiry timer — closes that client, is logged and
 * counted, and never reaches the process (an uncaught exception here would fail the test run).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { startBroker, type RunningBroker } from '../../../broker/index.js';
import { TestResources, uniqueName } from '../../helpers/raw-client.js';

const res = new TestResources();
let broker: RunningBroker | undefined;
afterEach(async () => {
  await res.releaseAll();
  await broker?.close();
  broker = undefined;
});

/** A broker whose log sink throws on lines matching `trap`: a stand-in for any defect on that path. */
async function trapped(trap: RegExp, lines: string[]): Promise<RunningBroker> {
  broker = await startBroker({
    listeners: [{ host: '127.0.0.1', port: 0 }],
    verbose: true,
    logSink: (line) => {
      lines.push(line);
      if (trap.test(line)) throw new Error(`trapped: ${line.slice(0, 60)}`);
    },
  });
  return broker;
}

describe('bundled broker: the guard', () => {
  it('closes a client whose CONNECT handling throws (authentication hook), and serves the next one', async () => {
    broker = await startBroker({
      listeners: [{ host: '127.0.0.1', port: 0 }],
      logTypes: new Set(['error']),
      logSink: () => {},
      allowAnonymous: true,
      authenticate: (req) => {
        if (req.clientId.startsWith('boom')) throw new Error('hook failed');
        return true;
      },
    });
    const ep = { host: broker.host, port: broker.port };
    for (const v of [4, 5] as const) {
      const c = await res.open(ep, v);
      c.send(c.connectPacket({ clientId: uniqueName('boom'), username: 'u' }));
      await c.closed();
      await res.connect(ep, v, { clientId: uniqueName('fine'), username: 'u' });
    }
    expect(broker.stats().faults).toBe(2);
  });

  it.each([
    ['the socket close handler', 0],
    ['the will-delay timer', 1],
  ])('survives an exception while publishing a will from %s', async (_path, willDelayInterval) => {
    const lines: string[] = [];
    const b = await trapped(/Sending will message/, lines);
    const ep = { host: b.host, port: b.port };
    const w = await res.connect(ep, 5, {
      clientId: uniqueName('will'),
      properties: { sessionExpiryInterval: 60 },
      will: { topic: uniqueName('w'), payload: Buffer.from('x'), qos: 0, retain: false, properties: { willDelayInterval } },
    });
    w.destroy();
    for (let i = 0; i < 40 && b.stats().faults === 0; i++) await sleep(100);
    expect(b.stats().faults).toBe(1);
    expect(lines.some((l) => /Internal error in publishing a will serving client/.test(l))).toBe(true);
    // Still serving.
    const c = await res.connect(ep, 4, { clientId: uniqueName('after') });
    await c.publish(uniqueName('t'), 'x', { qos: 1 });
  });

  it('survives an exception in the session-expiry timer', async () => {
    const lines: string[] = [];
    const b = await trapped(/Expiring client/, lines);
    const ep = { host: b.host, port: b.port };
    const c = await res.connect(ep, 5, { clientId: uniqueName('expiring'), properties: { sessionExpiryInterval: 1 } });
    c.destroy();
    for (let i = 0; i < 40 && b.stats().faults === 0; i++) await sleep(100);
    expect(b.stats().faults).toBe(1);
    // The session still ends: it would otherwise never expire.
    expect(b.stats().sessions).toBe(0);
    await res.connect(ep, 4, { clientId: uniqueName('after') });
  });
});
