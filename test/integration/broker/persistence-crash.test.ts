/**
 * The durability promise of `persistence true`: a message the broker acknowledged (PUBACK at QoS 1, PUBREC at QoS 2)
 * survives the broker being killed with SIGKILL at any moment. A QoS 1 and a QoS 2 publisher and a persistent QoS 2
 * subscriber run against `mqbench broker -c` while it is killed at seeded random moments and started again on the
 * same file, over and over; in the end every acknowledged QoS 1 message arrived at least once and every QoS 2 message
 * exactly once. Compaction runs every few hundred changes meanwhile, so kills land during compactions too.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { startBrokerProcess, type BrokerProcess } from '../../helpers/broker-process.js';
import { CrashPublisher, CrashSubscriber } from '../../helpers/crash-clients.js';
import { persistenceConf, persistenceDir } from '../../helpers/persistent-broker.js';
import { Prng } from '../../../bench/fuzz/prng.js';
import { sleep } from '../../helpers/raw-client.js';

const KILLS = 24;
const SEED = process.env.MQBENCH_CRASH_SEED ?? '20261206';

describe('bundled broker: acknowledged messages survive SIGKILL', () => {
  const dir = persistenceDir();
  let broker: BrokerProcess | undefined;
  afterAll(async () => {
    await broker?.stop();
    dir.remove();
  });

  it(`keeps every acknowledged QoS 1 and QoS 2 message through ${KILLS} kills (seed ${SEED})`, async () => {
    const random = new Prng(SEED);
    // No queue limit: a message may be dropped only by a limit, and none is set.
    const conf = persistenceConf(dir.dir, ['max_queued_messages 0', 'autosave_on_changes true', 'autosave_interval 300']);
    const sub = new CrashSubscriber('crash-sub', 'crash/#');
    const q1 = new CrashPublisher('crash-q1', 'crash/q1', 1, 40, 1_000_000);
    const q2 = new CrashPublisher('crash-q2', 'crash/q2', 2, 20, 1_000_000);
    const clients = [sub, q1, q2];
    const logs: string[] = [];

    const start = async (): Promise<void> => {
      broker = await startBrokerProcess('bundled', conf);
      for (const c of clients) {
        for (let attempt = 0; !(await c.connect(broker.port)); attempt++) {
          if (attempt === 20) throw new Error(`${c.clientId} could not connect: ${broker.output()}`);
          await sleep(20);
        }
      }
    };
    const kill = async (): Promise<void> => {
      const b = broker!;
      process.kill(b.pid, 'SIGKILL');
      for (let i = 0; i < 200 && b.exitStatus() === undefined; i++) await sleep(10);
      expect(b.exitStatus()).toBe('killed by SIGKILL');
      logs.push(b.output());
      await b.stop();
      broker = undefined;
      for (const c of clients) c.drop();
    };

    let ackedBeforeKills = 0;
    for (let k = 0; k < KILLS; k++) {
      await start();
      await sleep(60 + Math.floor(random.float() * 340));
      ackedBeforeKills = q1.acked.size + q2.acked.size;
      await kill();
    }

    // The last start: nothing new is published; every flow the clients began completes.
    q1.producing = false;
    q2.producing = false;
    await start();
    const deadline = Date.now() + 10_000;
    const missing = (): number => {
      let n = 0;
      for (const seq of q1.acked) if (sub.count('crash-q1', seq) === 0) n++;
      for (const seq of q2.acked) if (sub.count('crash-q2', seq) === 0) n++;
      return n + q1.unfinished + q2.unfinished;
    };
    while (missing() > 0 && Date.now() < deadline) await sleep(50);
    logs.push(broker!.output());

    expect([...sub.problems, ...q1.problems, ...q2.problems]).toEqual([]);
    // Enough traffic for the kills to land in the middle of things.
    expect(q1.acked.size).toBeGreaterThan(500);
    expect(q2.acked.size).toBeGreaterThan(200);
    expect(ackedBeforeKills).toBeGreaterThan(0);

    const lostQ1 = [...q1.acked].filter((seq) => sub.count('crash-q1', seq) === 0);
    const lostQ2 = [...q2.acked].filter((seq) => sub.count('crash-q2', seq) === 0);
    const twiceQ2 = [...(sub.counts.get('crash-q2') ?? new Map<number, number>())].filter(([, n]) => n > 1).map(([seq]) => seq);
    const said = logs.join('\n').split('\n').filter((l) => /Warning|Error/.test(l));
    expect({ lostQ1: lostQ1.slice(0, 10), lostQ2: lostQ2.slice(0, 10), twiceQ2: twiceQ2.slice(0, 10), said: said.slice(0, 5) }).toEqual({
      lostQ1: [],
      lostQ2: [],
      twiceQ2: [],
      said: said.filter((l) => /Warning: persistence file .* dropped/.test(l)).slice(0, 5),
    });
    expect(q1.unfinished + q2.unfinished).toBe(0);
  }, 60_000);
});
