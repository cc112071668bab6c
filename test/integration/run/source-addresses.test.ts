/**
 * Clients spread over source addresses (broker.sourceAddresses, --source-ip): each address carries its share of the
 * connections; addresses that are not this machine's, and runs that would run out of local ports, are refused before
 * anything connects.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBroker, type RunningBroker } from '../../../broker/index.js';
import { loadScenarioText } from '../../../src/scenario/index.js';
import { SourceAddressError, runScenario } from '../../../src/run/run.js';

const root = resolve(import.meta.dirname, '../../..');
const work = mkdtempSync(join(tmpdir(), 'mqbench-sources-'));
let broker: RunningBroker;
const lines: string[] = [];

beforeAll(async () => {
  broker = await startBroker({
    listeners: [{ host: '127.0.0.1', port: 0 }],
    logTypes: new Set(['notice']),
    logSink: (line) => lines.push(line),
  });
});

afterAll(async () => {
  await broker.close();
  rmSync(work, { recursive: true, force: true });
});

function scenario(sources: string) {
  const loaded = loadScenarioText(
    `
name: sources
sysTopics: false
broker:
  url: mqtt://127.0.0.1:${broker.port}
  sourceAddresses: ${sources}
groups:
  - name: sub
    steps:
      - connect
      - subscribe: { topic: "src/#", qos: 1 }
  - name: pub
    clients: 5
    startTime: 300ms
    steps:
      - connect
      - publish: { topic: "src/{client}", qos: 1, count: 4 }
      - disconnect
`,
    'sources.yaml',
  );
  if ('problems' in loaded) throw new Error(loaded.problems.map((p) => `${p.line}:${p.col} ${p.message}`).join('\n'));
  return loaded.scenario;
}

async function run(sources: string) {
  const s = scenario(sources);
  const t = s.broker.target;
  if (t.kind !== 'remote') throw new Error('expected a remote target');
  return runScenario({
    scenario: s,
    endpoint: { transport: 'mqtt', hosts: t.hosts, path: '', tls: undefined, sources: s.broker.sourceAddresses },
    target: { kind: 'remote', url: t.url, protocol: '3.1.1' },
    workers: 2,
    version: 'test',
  });
}

describe('source addresses', () => {
  it('spreads the run\'s clients evenly over the addresses, across worker threads, and delivers everything', async () => {
    lines.length = 0;
    const { result } = await run('[127.0.0.2-127.0.0.3, 127.0.0.4]');
    expect(result.delivery.total).toMatchObject({ sent: 20, acknowledged: 20, received: 20, lost: 0, duplicated: 0 });
    const from = new Map<string, number>();
    for (const line of lines) {
      const m = /New connection from ([\d.]+):\d+ on port/.exec(line);
      if (m) from.set(m[1], (from.get(m[1]) ?? 0) + 1);
    }
    // Six clients plus the reachability check (from the first address).
    expect(Object.fromEntries(from)).toEqual({ '127.0.0.2': 3, '127.0.0.3': 2, '127.0.0.4': 2 });
  });

  it('refuses an address that is not this machine\'s before anything connects', async () => {
    lines.length = 0;
    await expect(run('192.0.2.7')).rejects.toThrow(SourceAddressError);
    await expect(run('192.0.2.7')).rejects.toThrow(/source address 192\.0\.2\.7: not an address of this machine/);
    expect(lines.filter((l) => l.includes('New connection'))).toEqual([]);
  });

  it('names a mistaken list at file:line:col, and from the command line by its flag', () => {
    const file = join(work, 'bad.yaml');
    writeFileSync(file, 'name: bad\nbroker:\n  url: mqtt://127.0.0.1:1\n  sourceAddresses: 127.0.0.9-2\ngroups:\n  - steps: [connect]\n');
    const bad = spawnSync(process.execPath, [join(root, 'bin/mqbench.js'), 'run', file], { encoding: 'utf8', timeout: 30_000 });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toMatch(/bad\.yaml:4:20: sourceAddresses: "127\.0\.0\.9-2": the range ends before it starts/);
    const flag = spawnSync(process.execPath, [join(root, 'bin/mqbench.js'), 'run', file, '--source-ip', 'nosuchnic0'], { encoding: 'utf8', timeout: 30_000 });
    expect(flag.status).toBe(2);
    expect(flag.stderr).toMatch(/--source-ip: "nosuchnic0" is not an IP address, a range like 127\.0\.0\.2-127\.0\.0\.9, or an interface of this machine/);
    expect(flag.stderr).toMatch(/interfaces here: .*lo/);
  });

  it('refuses up front a run whose clients would not find local ports, with the numbers', () => {
    const file = join(work, 'many.yaml');
    writeFileSync(file, 'name: many\nbroker: mqtt://127.0.0.1:1\ngroups:\n  - name: many\n    clients: 60000\n    steps: [connect]\n');
    const r = spawnSync(process.execPath, [join(root, 'bin/mqbench.js'), 'run', file, '--source-ip', '127.0.0.2'], { encoding: 'utf8', timeout: 30_000 });
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/60000 clients towards 127\.0\.0\.1:1 from 1 source address need up to 60000 local ports per address, and this machine has \d+ \(net\.ipv4\.ip_local_port_range \d+ \d+\): give at least \d+ source addresses/);
    // Up front, with the descriptor shortfall beside it: not a wave of EADDRNOTAVAIL, no stack trace.
    expect(r.stderr).toMatch(/needs about 60064 open files/);
    expect(r.stderr).not.toMatch(/EADDRNOTAVAIL|\n\s+at /);
  });
});
