/**
 * No check passes against a server that says nothing: a check that did would not be checking anything. The server
 * accepts connections, reads and discards everything, never answers and never closes.
 */
import { createServer, type Socket } from 'node:net';
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

describe('a server that never answers', () => {
  it('fails every check (none passes, none is skipped)', async () => {
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
    const notFailed = run.checks.filter((c) => c.status !== 'fail').map((c) => `${c.id}: ${c.status} ${c.message ?? ''}`);
    expect(notFailed).toEqual([]);
  }, 300_000);
});
