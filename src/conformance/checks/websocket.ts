/**
 * MQTT over WebSocket (chapter 6), for brokers reached with a ws:// or wss:// URL: binary frames only, packets not
 * aligned on frames, and the "mqtt" subprotocol. A broker reached over plain TCP skips them.
 */
import WebSocket from 'ws';
import mqtt from 'mqtt-packet';
import { CheckFailed, expectEqual, type Check, type CheckContext } from '../check.js';
import type { MqttVersion } from '../statements.js';

interface Opened {
  ws: WebSocket;
  received: Buffer[];
  closed: Promise<void>;
}

/** A raw WebSocket to the broker with subprotocol "mqtt", or a skip when the broker is not reached over WebSocket. */
async function openWebSocket(ctx: CheckContext): Promise<Opened> {
  const e = ctx.endpoint;
  if (!('transport' in e) || (e.transport !== 'ws' && e.transport !== 'wss')) {
    const where = 'transport' in e ? `${e.transport}://${e.hosts[0].host}:${e.hosts[0].port}` : `mqtt://${e.host}:${e.port}`;
    ctx.skip('the statement is about MQTT over WebSocket; run with a ws:// or wss:// broker URL to check it', `reached over ${where}`);
  }
  const { host, port } = e.hosts[0];
  const url = `${e.transport}://${host.includes(':') ? `[${host}]` : host}:${port}${e.path || '/mqtt'}`;
  const ws = new WebSocket(url, ['mqtt'], { ca: e.tls?.ca, rejectUnauthorized: e.tls ? e.tls.verify : undefined, perMessageDeflate: false });
  const received: Buffer[] = [];
  ws.binaryType = 'nodebuffer';
  ws.on('message', (data: Buffer) => received.push(data));
  const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', (err) => reject(new Error(`cannot connect: ${err.message}`)));
  });
  return { ws, received, closed };
}

function connectBytes(ctx: CheckContext, level: 4 | 5): Buffer {
  return mqtt.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: level, clientId: ctx.clientId('ws'), clean: true, keepalive: 30 }, { protocolVersion: level });
}

async function within<T>(ms: number, p: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new CheckFailed(what)), ms)))]);
  } finally {
    if (timer) clearTimeout(timer);
  }
}

function websocketChecks(version: MqttVersion): Check[] {
  const level = version === '5.0' ? 5 : 4;
  return [
    {
      id: `${version}/6/text-frame-closes`,
      version,
      statements: ['MQTT-6.0.0-1'],
      title: 'A WebSocket text frame instead of a binary one makes the broker close the connection',
      async run(ctx) {
        const o = await openWebSocket(ctx);
        try {
          o.ws.send(connectBytes(ctx, level).toString('latin1'), { binary: false });
          await within(ctx.timeoutMs, o.closed, `the broker kept the connection open ${ctx.timeoutMs} ms after a text frame`);
        } finally {
          o.ws.terminate();
        }
      },
    },
    {
      id: `${version}/6/packets-across-frames`,
      version,
      statements: ['MQTT-6.0.0-2'],
      title: 'A CONNECT split over two binary frames, with a PINGREQ sharing the second, is read as two packets',
      async run(ctx) {
        const o = await openWebSocket(ctx);
        try {
          const connect = connectBytes(ctx, level);
          const cut = Math.floor(connect.length / 2);
          o.ws.send(connect.subarray(0, cut), { binary: true });
          o.ws.send(Buffer.concat([connect.subarray(cut), Buffer.from([0xc0, 0x00])]), { binary: true });
          await within(
            ctx.timeoutMs,
            (async () => {
              for (;;) {
                const all = Buffer.concat(o.received);
                if (all.length >= 2 && all[0] === 0x20 && all.includes(0xd0, 2)) return;
                await new Promise((r) => setTimeout(r, 20));
              }
            })(),
            `no CONNACK and PINGRESP within ${ctx.timeoutMs} ms (received ${Buffer.concat(o.received).toString('hex') || 'nothing'})`,
          );
          const all = Buffer.concat(o.received);
          expectEqual(all[0], 0x20, 'first packet type (CONNACK)');
        } finally {
          o.ws.terminate();
        }
      },
    },
    {
      id: `${version}/6/subprotocol-mqtt`,
      version,
      statements: ['MQTT-6.0.0-4'],
      title: 'The broker selects the WebSocket subprotocol "mqtt"',
      async run(ctx) {
        const o = await openWebSocket(ctx);
        try {
          if (o.ws.protocol !== 'mqtt') throw new CheckFailed(`the broker selected subprotocol "${o.ws.protocol}", not "mqtt"`);
        } finally {
          o.ws.terminate();
        }
      },
    },
  ];
}

export const WEBSOCKET_CHECKS: Check[] = [...websocketChecks('3.1.1'), ...websocketChecks('5.0')];
