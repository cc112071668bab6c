/**
 * Logging: with verbose logging both brokers print Mosquitto's lines, each with a Unix-time prefix; `log_type`
 * chooses which kinds appear.
 *
 * Mosquitto writes its log to a pipe here, which it buffers until exit, so every test reads the log after stopping
 * the broker.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { startTestBroker, testBrokerKinds, type TestBroker } from '../../helpers/brokers.js';
import { TestResources, uniqueName, type RawClient } from '../../helpers/raw-client.js';

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A whole log line with the time prefix, `body` being a regular expression source. */
function line(body: string): RegExp {
  return new RegExp(`^\\d+: ${body}$`, 'm');
}

describe.each(testBrokerKinds())('%s broker: verbose log', (kind) => {
  const res = new TestResources();
  let log = '';
  let listenPort = 0;
  const id = {
    watcher: uniqueName('logw'),
    pub: uniqueName('logpub'),
    v5: uniqueName('logv5'),
    v3: uniqueName('logv3'),
    dup: uniqueName('logdup'),
    abrupt: uniqueName('logabrupt'),
    bye: uniqueName('logbye'),
    twice: uniqueName('logtwice'),
    idle: uniqueName('logidle'),
  };
  const topic = uniqueName('log-t');

  // One broker session plays every case; the tests below each look for their lines in its log.
  beforeAll(async () => {
    let broker: TestBroker | undefined = await startTestBroker(kind, [], { verbose: true });
    listenPort = broker.port;
    try {
      const watcher = await res.connect(broker, 4, { clientId: id.watcher });
      await watcher.subscribe(topic, 0);
      const pub = await res.connect(broker, 4, { clientId: id.pub, keepalive: 60 });
      await pub.publish(topic, Buffer.alloc(62, 0x61), { qos: 2 });
      await watcher.next('publish');
      pub.send({ cmd: 'pingreq' });
      await pub.next('pingresp');

      await res.connect(broker, 5, { clientId: id.v5, keepalive: 30, username: 'alice' });
      await res.connect(broker, 3, { clientId: id.v3, keepalive: 15 });

      const first = await res.connect(broker, 4, { clientId: id.dup });
      await res.connect(broker, 4, { clientId: id.dup });
      await first.closed();

      const abrupt = await res.connect(broker, 4, { clientId: id.abrupt });
      abrupt.destroy();
      const bye = await res.connect(broker, 4, { clientId: id.bye });
      await bye.disconnect();
      const twice = await res.connect(broker, 4, { clientId: id.twice });
      twice.send(twice.connectPacket({ clientId: id.twice }));
      await twice.closed();

      const idle: RawClient = await res.connect(broker, 4, { clientId: id.idle, keepalive: 1 });
      // Mosquitto enforces a 1 s keepalive only after about 5 s.
      await idle.closed(9_000);
      await pub.disconnect();
      await watcher.disconnect();

      await broker.stop();
      log = broker.logs();
      broker = undefined;
    } finally {
      await res.releaseAll();
      await broker?.stop();
    }
  }, 30_000);

  it('every line starts with the Unix time', () => {
    const lines = log.split('\n').filter((l) => l.length > 0);
    expect(lines.length).toBeGreaterThan(10);
    const now = Date.now() / 1000;
    for (const l of lines) {
      const m = /^(\d+): ./.exec(l);
      expect(m, l).not.toBeNull();
      expect(Math.abs(Number(m![1]) - now), l).toBeLessThan(120);
    }
  });

  it('"New client connected from <address>:<port> as <id> (p<protocol>, c<clean>, k<keepalive>[, u\'<user>\'])."', () => {
    expect(log).toMatch(line(`New client connected from 127\\.0\\.0\\.1:\\d+ as ${escape(id.pub)} \\(p2, c1, k60\\)\\.`));
    expect(log).toMatch(line(`New client connected from 127\\.0\\.0\\.1:\\d+ as ${escape(id.v5)} \\(p5, c1, k30, u'alice'\\)\\.`));
    expect(log).toMatch(line(`New client connected from 127\\.0\\.0\\.1:\\d+ as ${escape(id.v3)} \\(p1, c1, k15\\)\\.`));
  });

  it('"New connection from <address>:<port> on port <listener>."', () => {
    expect(log).toMatch(line(`New connection from 127\\.0\\.0\\.1:\\d+ on port ${listenPort}\\.`));
  });

  it('"Sending CONNACK to <id> (<session present>, <code>)"', () => {
    expect(log).toMatch(line(`Sending CONNACK to ${escape(id.pub)} \\(0, 0\\)`));
  });

  it('"Received PUBLISH from <id> (d0, q2, r0, m1, \'<topic>\', ... (62 bytes))" and "Sending PUBLISH to <id> (...)"', () => {
    expect(log).toMatch(line(`Received PUBLISH from ${escape(id.pub)} \\(d0, q2, r0, m1, '${escape(topic)}', \\.\\.\\. \\(62 bytes\\)\\)`));
    expect(log).toMatch(line(`Sending PUBLISH to ${escape(id.watcher)} \\(d0, q0, r0, m0, '${escape(topic)}', \\.\\.\\. \\(62 bytes\\)\\)`));
  });

  it('QoS 2 and subscription lines: PUBREC, PUBREL, PUBCOMP, SUBSCRIBE, SUBACK, PINGREQ, PINGRESP', () => {
    expect(log).toMatch(line(`Sending PUBREC to ${escape(id.pub)} \\(m1, rc0\\)`));
    expect(log).toMatch(line(`Received PUBREL from ${escape(id.pub)} \\(Mid: 1\\)`));
    expect(log).toMatch(line(`Sending PUBCOMP to ${escape(id.pub)} \\(m1\\)`));
    expect(log).toMatch(line(`Received SUBSCRIBE from ${escape(id.watcher)}`));
    expect(log).toMatch(line(`\\t${escape(topic)} \\(QoS 0\\)`));
    expect(log).toMatch(line(`Sending SUBACK to ${escape(id.watcher)}`));
    expect(log).toMatch(line(`Received PINGREQ from ${escape(id.pub)}`));
    expect(log).toMatch(line(`Sending PINGRESP to ${escape(id.pub)}`));
  });

  it('"Client <id> already connected, closing old connection."', () => {
    expect(log).toMatch(line(`Client ${escape(id.dup)} already connected, closing old connection\\.`));
  });

  it('"Client <id> has exceeded timeout, disconnecting."', () => {
    expect(log).toMatch(line(`Client ${escape(id.idle)} has exceeded timeout, disconnecting\\.`));
  });

  it('a dropped connection: "Client <id> closed its connection." (Mosquitto 2.0.11 wording)', () => {
    // Mosquitto 1.x said "Socket error on client <id>, disconnecting."; 2.0.11 no longer has that line.
    expect(log).toMatch(line(`Client ${escape(id.abrupt)} closed its connection\\.`));
  });

  it('a normal DISCONNECT: "Received DISCONNECT from <id>" and "Client <id> disconnected."', () => {
    expect(log).toMatch(line(`Received DISCONNECT from ${escape(id.bye)}`));
    expect(log).toMatch(line(`Client ${escape(id.bye)} disconnected\\.`));
  });

  it('a second CONNECT: "Bad client <id> sending multiple CONNECT messages." and "... disconnected due to protocol error."', () => {
    expect(log).toMatch(line(`Bad client ${escape(id.twice)} sending multiple CONNECT messages\\.`));
    expect(log).toMatch(line(`Client ${escape(id.twice)} disconnected due to protocol error\\.`));
  });
});

describe.each(testBrokerKinds())('%s broker: log_type', (kind) => {
  const res = new TestResources();
  afterEach(() => res.releaseAll());

  /** Connects, publishes and disconnects one client; returns the log after the broker stopped. */
  async function logOf(confLines: string[]): Promise<{ log: string; clientId: string }> {
    const broker = await startTestBroker(kind, confLines);
    const clientId = uniqueName('lt');
    try {
      const c = await res.connect(broker, 4, { clientId });
      await c.publish(uniqueName('lt-t'), 'x', { qos: 1 });
      await c.disconnect();
    } finally {
      await broker.stop();
    }
    return { log: broker.logs(), clientId };
  }

  it('by default (errors only) connections are not logged', async () => {
    const { log, clientId } = await logOf([]);
    expect(log).not.toContain(clientId);
  });

  it('log_type notice logs connections but not packets', async () => {
    const { log, clientId } = await logOf(['log_type notice']);
    expect(log).toMatch(line(`New client connected from 127\\.0\\.0\\.1:\\d+ as ${escape(clientId)} \\(p2, c1, k60\\)\\.`));
    expect(log).not.toMatch(new RegExp(`Received PUBLISH from ${escape(clientId)}`));
    expect(log).not.toMatch(new RegExp(`Sending CONNACK to ${escape(clientId)}`));
  });

  it('log_type debug logs packets', async () => {
    const { log, clientId } = await logOf(['log_type debug']);
    expect(log).toMatch(line(`Received PUBLISH from ${escape(clientId)} \\(d0, q1, r0, m1, '[^']+', \\.\\.\\. \\(1 bytes\\)\\)`));
    expect(log).toMatch(line(`Sending PUBACK to ${escape(clientId)} \\(m1, rc0\\)`));
  });
});
