/**
 * No check passes against a server that says nothing: a check that did would not be checking anything. The server
 * accepts connections, reads and discards everything, never answers and never closes.
 */
import { createServer, type Socket } from 'node:net';
import { WebSocketServer } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALL_CHECKS } from '../../../src/conformance/checks/index.js';
import type { Capabilities } from '../../../src/conformance/check.js';
import { runChecks } from '../../../src/conformance/runner.js';

const everything: Capabilities = {
  maximumQoS: 2,
  retainAvailable: true,
  wildcardSubscriptions: true,
  subscriptionIdentifiers: true,
  sharedSubscriptions: true,
  topicAliasMaximum: 10,
  receiveMaximum: 65535,
  maximumPacketSize: undefined,
  declared: ['assumed: the server declares nothing'],
};

let port = 0;
const sockets = new Set<Socket>();
const server = createServer((s) => {
  sockets.add(s);
  s.on('data', () => undefined);
  s.on('error', () => undefined);
});

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const a = server.address();
  port = typeof a === 'object' && a ? a.port : 0;
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const isWebSocketCheck = (id: string) => id.includes('/6/');

describe('a server that never answers', () => {
  it('over TCP, passes no check (checks about optional features the assumed broker offers may skip)', async () => {
    const run = await runChecks(ALL_CHECKS, {
      endpoint: { host: '127.0.0.1', port },
      label: 'black hole',
      versions: ['3.1.1', '5.0'],
      timeoutMs: 250,
      allowFail: new Set(),
      concurrency: 16,
      assumeCapabilities: everything,
    });
    expect(run.checks).toHaveLength(ALL_CHECKS.length);
    expect(run.checks.filter((c) => c.status === 'pass').map((c) => c.id)).toEqual([]);
    // A skip must come from a declaration (here: the capabilities assumed above) or the transport, never from the
    // silence itself.
    const skips = run.checks.filter((c) => c.status === 'skip');
    expect(skips.filter((c) => !isWebSocketCheck(c.id) && !c.declaration?.includes('assumed')).map((c) => `${c.id}: ${c.message}`)).toEqual([]);
  }, 300_000);

  it('over WebSocket, fails every WebSocket check', async () => {
    // Accepts the upgrade without choosing a subprotocol, then stays silent and keeps every connection open.
    const wss = new WebSocketServer({ port: 0, host: '127.0.0.1', handleProtocols: () => false });
    await new Promise<void>((resolve) => wss.once('listening', () => resolve()));
    const a = wss.address();
    try {
      const run = await runChecks(ALL_CHECKS, {
        endpoint: { transport: 'ws', hosts: [{ host: '127.0.0.1', port: typeof a === 'object' && a ? a.port : 0 }], path: '/mqtt', tls: undefined },
        label: 'websocket black hole',
        versions: ['3.1.1', '5.0'],
        grep: '/6/',
        timeoutMs: 250,
        allowFail: new Set(),
        assumeCapabilities: everything,
      });
      expect(run.checks.length).toBe(ALL_CHECKS.filter((c) => isWebSocketCheck(c.id)).length);
      expect(run.checks.filter((c) => c.status !== 'fail').map((c) => `${c.id}: ${c.status}`)).toEqual([]);
    } finally {
      for (const c of wss.clients) c.terminate();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    }
  });
});
