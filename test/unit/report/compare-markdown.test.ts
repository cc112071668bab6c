import { describe, expect, it } from 'vitest';
import { renderBenchmarksMarkdown } from '../../../src/report/compare-markdown.js';
import { compareResult } from './compare-fixture.js';

/** Cells of a GFM table row: split on pipes that are not escaped. */
function cells(row: string): string[] {
  const inner = row.trim().replace(/^\|/, '').replace(/\|$/, '');
  const out: string[] = [];
  let cell = '';
  for (let i = 0; i < inner.length; i++) {
    if (inner[i] === '\\' && i + 1 < inner.length) {
      cell += inner[i] + inner[i + 1];
      i++;
    } else if (inner[i] === '|') {
      out.push(cell.trim());
      cell = '';
    } else {
      cell += inner[i];
    }
  }
  out.push(cell.trim());
  return out;
}

/** Every table in the document: consecutive lines starting with "|". */
function tables(text: string): string[][] {
  const found: string[][] = [];
  let current: string[] = [];
  for (const line of text.split('\n')) {
    if (line.startsWith('|')) current.push(line);
    else if (current.length > 0) {
      found.push(current);
      current = [];
    }
  }
  if (current.length > 0) found.push(current);
  return found;
}

/** The lines under a heading, up to the next heading of the same or a higher level. */
function under(text: string, heading: string): string {
  const lines = text.split('\n');
  const start = lines.indexOf(heading);
  expect(start, heading).toBeGreaterThanOrEqual(0);
  const level = heading.indexOf(' ');
  let end = start + 1;
  while (end < lines.length && !(lines[end].startsWith('#') && lines[end].indexOf(' ') <= level && /^#+ /.test(lines[end]))) end++;
  return lines.slice(start + 1, end).join('\n');
}

function row(section: string, first: string): string[] {
  for (const t of tables(section)) {
    for (const line of t.slice(2)) {
      const c = cells(line);
      if (c[0] === first) return c;
    }
  }
  throw new Error(`no row for ${first}`);
}

describe('renderBenchmarksMarkdown', () => {
  const text = renderBenchmarksMarkdown(compareResult());

  it('has well-formed tables: a rule under the head and every row as wide as it', () => {
    const all = tables(text);
    // Machine, brokers, one per scenario, saturation.
    expect(all.length).toBe(7);
    for (const t of all) {
      const width = cells(t[0]).length;
      expect(cells(t[1]).every((c) => /^-{3,}:?$/.test(c)), t[1]).toBe(true);
      for (const line of t) expect(cells(line), line).toHaveLength(width);
    }
  });

  it('describes the machine and the brokers, and quotes the exact command', () => {
    const machine = under(text, '## Machine');
    expect(row(machine, 'CPU')).toEqual(['CPU', '2 cores, Intel(R) Xeon(R) CPU @ 2.20GHz']);
    expect(row(machine, 'memory')[1]).toBe('7.8 GiB');
    expect(row(machine, 'Node')[1]).toBe('v20.19.0');
    const brokers = under(text, '## Brokers');
    expect(row(brokers, 'mosquitto 2.0.11')).toEqual(['mosquitto 2.0.11', 'mosquitto', '2.0.11', '`mqtt://127.0.0.1:41884`', 'measured (started by mqbench)']);
    expect(brokers).toContain('| remote | n/a |');
    expect(brokers).toContain('not measured (not started by mqbench)');
    expect(under(text, '## Command')).toContain(`\n\`\`\`sh\n${compareResult().command}\n\`\`\``);
  });

  it('has a table per scenario with the right numbers in the right rows and the ratio', () => {
    const fanout = under(text, '### fanout-qos1');
    expect(cells(tables(fanout)[0][0])).toEqual([
      'broker', 'msg/s (median)', 'min–max', 'p50', 'p99', 'p99.9', 'errors', 'lost', 'CPU time', 'msg per CPU s', 'peak memory', 'bundled ÷ this',
    ]);
    expect(row(fanout, 'bundled')).toEqual(['bundled', '50,000', '49,200–50,400', '0.85 ms', '3.20 ms', '7.90 ms', '0', '0', '4.21 s', '11,877', '50.0 MiB', '–']);
    expect(row(fanout, 'mosquitto 2.0.11')).toEqual(['mosquitto 2.0.11', '5,889', '5,700–6,010', '12.4 ms', '48.0 ms', '95.5 ms', '0', '12', '9.98 s', '590', '7.0 MiB', '8.49×']);
    expect(fanout).toContain('- bundled ÷ mosquitto 2.0.11: **8.49×**');
    const connect = under(text, '### connect-storm');
    expect(row(connect, 'aedes 1.2.0')).toEqual([
      'aedes 1.2.0', '1,250', '1,200–1,300', 'n/a', 'n/a', 'n/a', '41', '0', '6.40 s', 'n/a', '200 MiB', '2 of 3', '3.36×',
    ]);
    expect(connect).toContain('- aedes 1.2.0: thresholds failed in 1 of 2 rounds');
    const idle = under(text, '### idle-10k');
    expect(cells(tables(idle)[0][0]).at(-1)).toBe('this ÷ bundled');
    expect(row(idle, 'mosquitto 2.0.11').slice(-2)).toEqual(['1.0 KiB', '0.33×']);
    expect(idle).toContain('- mosquitto 2.0.11 ÷ bundled: **0.33×**');
  });

  it('shows the remote broker’s missing process figures as n/a, never NaN', () => {
    const fanout = under(text, '### fanout-qos1');
    const remote = tables(fanout)[0].map(cells).find((c) => c[0].startsWith('mqtt://evil'))!;
    expect(remote.slice(8)).toEqual(['n/a', 'n/a', 'n/a', '2.50×']);
    const idle = under(text, '### idle-10k');
    const remoteIdle = tables(idle)[0].map(cells).find((c) => c[0].startsWith('mqtt://evil'))!;
    expect(remoteIdle.slice(-2)).toEqual(['n/a', 'n/a']);
    expect(text).not.toMatch(/NaN|undefined|Infinity|null/);
  });

  it('lists the saturation results', () => {
    const s = under(text, '## Saturation');
    expect(row(s, 'paced-qos0')).toEqual(['paced-qos0', 'bundled', '**6,750/s**', '10,125/s', 'p99 120.4 ms &gt; 50.0 ms', '5', 'p99 ≤ 50.0 ms, lost ≤ 0, errors ≤ 0']);
    expect(row(s, '').slice(1, 5)).toEqual(['mosquitto 2.0.11', '**3,000/s**', '4,500/s', 'p99 88.0 ms &gt; 50.0 ms, 12 lost']);
    const none = compareResult();
    none.saturation = [];
    expect(renderBenchmarksMarkdown(none)).not.toContain('## Saturation');
  });

  it('says how to read it', () => {
    const how = under(text, '## How to read this');
    expect(how).toContain('medians over those rounds');
    expect(how).toContain('taking turns (A B A B)');
    expect(how).toContain('measured only for brokers mqbench started');
    expect(how).toContain('divides the bundled broker’s figure by the other broker’s');
  });

  it('keeps a hostile broker label and description inert', () => {
    // Inside a code span markup is shown as typed; everywhere else it must be entities.
    expect(text.replace(/`[^`\n]*`/g, '')).not.toMatch(/<img|<b>/);
    expect(under(text, '## Brokers')).toContain('`mqtt://evil<img src=x onerror=alert(1)>\\|**x**\\x1b[31m\\n# h`');
    expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f]/);
    expect(text.split('\n').some((l) => l.startsWith('# h'))).toBe(false);
    expect(text).toContain('mqtt://evil&lt;img src=x onerror=alert(1)&gt;\\|\\*\\*x\\*\\*\\\\x1b\\[31m\\\\n# h');
    expect(under(text, '### connect-storm')).toContain('Clients connect and leave &lt;b&gt;as fast as&lt;/b&gt; \\| the broker "allows"');
  });

  it('fences a command holding backticks with a longer fence', () => {
    const r = compareResult();
    r.command = 'mqbench compare a.yaml --broker "```"';
    expect(renderBenchmarksMarkdown(r)).toContain('\n````sh\nmqbench compare a.yaml --broker "```"\n````\n');
  });
});

describe('incidents in docs/benchmarks.md', () => {
  it('have a section of their own, escaped, only when there are some', () => {
    const r = compareResult();
    const text = renderBenchmarksMarkdown(r);
    expect(text).toContain('## Incidents');
    expect(text).toContain('\n- connect-storm, aedes 1.2.0, round 2: aedes 1.2.0 exited during the run (last output: RangeError: Maximum call stack size exceeded &lt;stack&gt;)\n');
    r.incidents = [];
    expect(renderBenchmarksMarkdown(r)).not.toContain('## Incidents');
  });
});
