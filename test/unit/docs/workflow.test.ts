/**
 * The example GitHub Actions workflow in docs/ is valid YAML, starts its broker as a service container, and runs
 * mqbench conformance with options the CLI accepts.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { usage } from '../../../src/cli/commands/conformance.js';

const root = resolve(__dirname, '../../..');
const workflow = parse(readFileSync(join(root, 'docs/github-actions-conformance.yml'), 'utf8'));

describe('docs/github-actions-conformance.yml', () => {
  const job = workflow.jobs.conformance;

  it('runs the broker as a service container published on the port mqbench is pointed at', () => {
    const [name, service] = Object.entries(job.services as Record<string, { image: string; ports: string[] }>)[0];
    expect(service.image).toMatch(/^eclipse-mosquitto:2/);
    expect(service.ports).toContain('1883:1883');
    expect(job.env.BROKER_URL).toBe('mqtt://localhost:1883');
    const log = job.steps.find((s: { name: string }) => s.name === 'Show the broker log');
    expect(log.run).toContain(`job.services.${name}.id`);
  });

  it('passes only options mqbench conformance documents, and publishes junit.xml', () => {
    const run: string = job.steps.find((s: { name: string }) => s.name === 'Run the conformance checks').run;
    expect(run).toMatch(/mqbench@\$\{MQBENCH_VERSION\}" conformance/);
    const options = [...run.matchAll(/(--[a-z-]+)/g)].map((m) => m[1]).filter((o) => o !== '--yes');
    expect(options.length).toBeGreaterThan(2);
    for (const o of options) expect(usage, o).toContain(`  ${o} `);
    const junit = job.steps.find((s: { uses?: string }) => s.uses?.startsWith('mikepenz/action-junit-report'));
    expect(junit.with.report_paths).toBe('conformance-report/junit.xml');
  });
});
