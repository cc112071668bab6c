import { describe, expect, it } from 'vitest';
import { DEFAULT_CONF, MARKDOWN_BEGIN, MARKDOWN_END, UsageError, parseBenchArgs, rowBrokers, rowConf } from '../../../bench/args.js';
import { replaceMarkdownBlock } from '../../../bench/markdown-block.js';
import type { ConnectResult, IdleResult, MessageResult } from '../../../bench/messages.js';
import { connectTable, idleTable, messageTable, nagleVerdicts, renderMarkdownTable, significant } from '../../../bench/render.js';
import { DEFAULT_ROWS, MOSQUITTO_DEFAULT_LIMITS, ROWS, type BenchRow } from '../../../bench/rows.js';
import { findRatio, rowRatios, summariseRuns, type RunRecord } from '../../../bench/summary.js';

function row(name: string): BenchRow {
  return ROWS.find((r) => r.name === name)!;
}

function usageError(argv: string[]): string {
  try {
    parseBenchArgs(argv);
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error(`${argv.join(' ')} was accepted`);
}

function messageResult(rate: number, cpuMicros: number | null, lost = 0): MessageResult {
  return {
    kind: 'messages', windowSeconds: 5, receivedPerSecond: rate, sentPerSecond: rate, sent: rate * 5, received: rate * 5,
    expected: rate * 5, distinct: rate * 5 - lost, lost, duplicates: 0, outOfOrder: 0, beyondWindow: 0, windowBits: 1 << 24,
    unacknowledged: 0, unexpected: 0, brokerCpuSeconds: cpuMicros === null ? null : (cpuMicros * rate * 5) / 1e6,
    brokerCpuMicrosPerMessage: cpuMicros, brokerCpuPercent: 90, generatorCpuPercent: 20, brokerPeakRssMiB: 50,
    drainSeconds: 0.1, drainTimedOut: false,
  };
}

function idleResult(bytes: number, idleBytes: number): IdleResult {
  return {
    kind: 'idle', connections: 10_000, rssBeforeBytes: 1e6, rssAfterBytes: 1e6 + bytes * 10_000, bytesPerConnection: bytes,
    rssIdleBytes: 1e6 + idleBytes * 10_000, idleBytesPerConnection: idleBytes, connectSeconds: 2,
  };
}

function connectResult(cpuMicros: number): ConnectResult {
  return {
    kind: 'connect', connections: 20_000, seconds: 4, connectionsPerSecond: 5_000, brokerCpuSeconds: (cpuMicros * 20_000) / 1e6,
    brokerCpuMicrosPerConnection: cpuMicros, connackP50Ms: 0.2, connackP99Ms: 1.5, connackMaxMs: 3,
  };
}

describe('npm run bench:broker arguments', () => {
  it('runs every row but the 100,000-connection one by default, and all of them with --only all', () => {
    const o = parseBenchArgs([]);
    expect(o.rows.map((r) => r.name)).toEqual(DEFAULT_ROWS.map((r) => r.name));
    expect(o.rows.map((r) => r.name)).not.toContain('idle-100k');
    expect(o.nodelay).toBe('both');
    expect(parseBenchArgs(['--only', 'all']).rows).toEqual([...ROWS]);
    expect(parseBenchArgs(['--only', 'idle-100k,connect']).rows.map((r) => r.name)).toEqual(['idle-100k', 'connect']);
  });

  it('takes --mosquitto-nodelay and --markdown', () => {
    const o = parseBenchArgs(['--mosquitto-nodelay', 'on', '--markdown', 'README.md']);
    expect([o.nodelay, o.markdownFile]).toEqual(['on', 'README.md']);
  });

  it('reports every mistake at once', () => {
    const message = usageError(['--payload', '4', '--mosquitto-nodelay', 'sometimes', '--conf', 'set_tcp_nodelay true', '--only', 'idle-1k']);
    expect(message).toContain('--payload must be an integer from 8');
    expect(message).toContain('--mosquitto-nodelay must be both, on or off, got "sometimes"');
    expect(message).toContain('use --mosquitto-nodelay on');
    expect(message).toContain('unknown row "idle-1k"');
  });
});

describe('brokers and mosquitto.conf of each row', () => {
  it('measures Mosquitto with and without Nagle in the QoS 1/2 rows only, as asked', () => {
    const both = ['bundled', 'mosquitto'] as const;
    expect(rowBrokers(row('qos0-fan-in'), both, 'both')).toEqual(['bundled', 'mosquitto']);
    expect(rowBrokers(row('qos2-one-to-one'), both, 'both')).toEqual(['bundled', 'mosquitto', 'mosquitto-nodelay']);
    expect(rowBrokers(row('qos1-fan-in'), both, 'on')).toEqual(['bundled', 'mosquitto-nodelay']);
    expect(rowBrokers(row('qos1-fan-out'), both, 'off')).toEqual(['bundled', 'mosquitto']);
  });

  it('adds the floor to the connection rows and leaves the sink out of them', () => {
    expect(rowBrokers(row('idle-10k'), ['bundled', 'mosquitto', 'sink'], 'both')).toEqual(['bundled', 'mosquitto', 'floor']);
    expect(rowBrokers(row('connect'), ['bundled'], 'both')).toEqual(['bundled', 'floor']);
  });

  it("gives the QoS 1 fan-out row Mosquitto's default limits, before the user's --conf lines", () => {
    const conf = parseBenchArgs(['--conf', 'max_queued_messages 5']).conf;
    expect(rowConf(row('qos1-fan-out'), conf)).toEqual([...DEFAULT_CONF, ...MOSQUITTO_DEFAULT_LIMITS, 'max_queued_messages 5']);
    expect(rowConf(row('qos0-fan-in'), conf)).toEqual([...DEFAULT_CONF, 'max_queued_messages 5']);
  });
});

describe('summaries and ratios', () => {
  const records: RunRecord[] = [
    ...[1, 2, 3].flatMap((round): RunRecord[] => [
      { row: 'qos1-fan-in', broker: 'bundled', brokerLabel: 'bundled', round, result: messageResult(900_000 + round * 10_000, 1 + round / 10) },
      { row: 'qos1-fan-in', broker: 'mosquitto', brokerLabel: 'mosquitto 2.0.11', round, result: messageResult(90_000, 10, round) },
      { row: 'qos1-fan-in', broker: 'mosquitto-nodelay', brokerLabel: 'mosquitto 2.0.11 nodelay', round, result: messageResult(45_000, 12) },
      { row: 'idle-10k', broker: 'bundled', brokerLabel: 'bundled', round, result: idleResult(6_000 + round, 2_500 - round) },
      { row: 'idle-10k', broker: 'mosquitto', brokerLabel: 'mosquitto 2.0.11', round, result: idleResult(1_000, 1_000) },
      { row: 'idle-10k', broker: 'floor', brokerLabel: 'floor (Node net)', round, result: idleResult(4_000, 2_000) },
      { row: 'connect', broker: 'bundled', brokerLabel: 'bundled', round, result: connectResult(60) },
      { row: 'connect', broker: 'mosquitto', brokerLabel: 'mosquitto 2.0.11', round, result: connectResult(40) },
      { row: 'connect', broker: 'floor', brokerLabel: 'floor (Node net)', round, result: connectResult(30) },
    ]),
    { row: 'connect', broker: 'mosquitto', brokerLabel: 'mosquitto 2.0.11', round: 4, error: 'load generator exited with SIGKILL before reporting' },
  ];
  const summaries = summariseRuns(records);
  const ratios = rowRatios(summaries);

  it('takes medians and ranges over the rounds, sums the exact counts, and counts failed runs', () => {
    const bundled = summaries.find((s) => s.row === 'qos1-fan-in' && s.broker === 'bundled');
    expect(bundled?.kind === 'messages' && bundled.rate).toEqual({ median: 920_000, min: 910_000, max: 930_000 });
    expect(bundled?.kind === 'messages' && bundled.cpuPerMessage?.median).toBeCloseTo(1.2);
    const mosquitto = summaries.find((s) => s.row === 'qos1-fan-in' && s.broker === 'mosquitto');
    expect(mosquitto?.kind === 'messages' && mosquitto.lost).toBe(6);
    const connect = summaries.find((s) => s.row === 'connect' && s.broker === 'mosquitto');
    expect([connect?.runs, connect?.failed]).toEqual([3, 1]);
  });

  it('divides the bundled broker by each Mosquitto setting in msg/s and in CPU per message', () => {
    expect(findRatio(ratios, 'qos1-fan-in', 'rate', 'bundled', 'mosquitto')).toBeCloseTo(920_000 / 90_000);
    expect(findRatio(ratios, 'qos1-fan-in', 'rate', 'bundled', 'mosquitto-nodelay')).toBeCloseTo(920_000 / 45_000);
    expect(findRatio(ratios, 'qos1-fan-in', 'cpu-per-message', 'bundled', 'mosquitto')).toBeCloseTo(1.2 / 10);
  });

  it('divides every broker by the floor in the connection rows, and the bundled broker by Mosquitto', () => {
    expect(findRatio(ratios, 'idle-10k', 'bytes-per-connection', 'bundled', 'floor')).toBeCloseTo(6_002 / 4_000);
    expect(findRatio(ratios, 'idle-10k', 'bytes-per-connection', 'mosquitto', 'floor')).toBeCloseTo(0.25);
    expect(findRatio(ratios, 'idle-10k', 'bytes-per-connection', 'bundled', 'mosquitto')).toBeCloseTo(6.002);
    expect(findRatio(ratios, 'idle-10k', 'idle-bytes-per-connection', 'bundled', 'floor')).toBeCloseTo(2_498 / 2_000);
    expect(findRatio(ratios, 'idle-10k', 'idle-bytes-per-connection', 'bundled', 'mosquitto')).toBeCloseTo(2.498);
    expect(findRatio(ratios, 'connect', 'cpu-per-connection', 'bundled', 'floor')).toBeCloseTo(2);
    expect(findRatio(ratios, 'connect', 'cpu-per-connection', 'bundled', 'mosquitto')).toBeCloseTo(1.5);
  });

  it('puts them in tables with the ratios on the other brokers\' lines', () => {
    const messages = messageTable(summaries, ratios);
    const nodelay = messages.rows.find((r) => r[1] === 'mosquitto 2.0.11 nodelay')!;
    expect(nodelay[messages.header.indexOf('bundled ÷ this: msg/s')]).toBe('20.44×');
    const mosquittoLine = messages.rows.find((r) => r[1] === 'mosquitto 2.0.11')!;
    expect(mosquittoLine[messages.header.indexOf('lost / dup / out of order')]).toBe('6 / 0 / 0');
    expect(mosquittoLine[messages.header.indexOf('CPU/msg')]).toBe('0.12×');
    const idle = idleTable(summaries, ratios, 60);
    const mosquittoIdle = idle.rows.find((r) => r[1] === 'mosquitto 2.0.11')!;
    expect(idle.header[6]).toBe('at 60 s idle');
    expect(mosquittoIdle.slice(2, 10)).toEqual(['1,000', '1,000 – 1,000', '0.25×', '6.00×', '1,000', '1,000 – 1,000', '0.50×', '2.50×']);
    const bundledIdle = idle.rows.find((r) => r[1] === 'bundled')!;
    expect(bundledIdle.slice(6, 8)).toEqual(['2,498', '2,497 – 2,499']);
    expect(idleTable(summaries, ratios, 1).header).not.toContain('at 1 s idle');
    const connect = connectTable(summaries, ratios);
    const floorLine = connect.rows.find((r) => r[1] === 'floor (Node net)')!;
    expect(floorLine[connect.header.indexOf('÷ floor')]).toBe('1.00×');
    expect(connect.rows.find((r) => r[1] === 'mosquitto 2.0.11')!.at(-1)).toBe('1 of 4 runs failed');
    expect(renderMarkdownTable(connect).split('\n')[1]).toBe('| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |');
  });

  it("says which of Mosquitto's two settings favoured it", () => {
    expect(nagleVerdicts(summaries)).toEqual([
      "QoS 1 fan-in 4→1: Mosquitto's higher msg/s with Nagle's algorithm on (its default), its lower CPU per message with Nagle's algorithm on.",
    ]);
  });

  it('prints small figures with three significant digits', () => {
    expect([significant(0.08764), significant(4.4149), significant(12.34), significant(1234.5)]).toEqual(['0.0876', '4.41', '12.3', '1,235']);
  });
});

describe('the generated block in a Markdown file', () => {
  const block = `${MARKDOWN_BEGIN}\nnew\n${MARKDOWN_END}\n`;

  it('replaces only what is between the markers', () => {
    const text = `# Title\n\nbefore\n${MARKDOWN_BEGIN}\nold\nold\n${MARKDOWN_END}\nafter\n`;
    expect(replaceMarkdownBlock(text, block, MARKDOWN_BEGIN, MARKDOWN_END)).toBe(`# Title\n\nbefore\n${block}after\n`);
  });

  it('appends the block to a file without one, and refuses a file with one marker', () => {
    expect(replaceMarkdownBlock('# Title\n', block, MARKDOWN_BEGIN, MARKDOWN_END)).toBe(`# Title\n\n${block}`);
    expect(replaceMarkdownBlock('', block, MARKDOWN_BEGIN, MARKDOWN_END)).toBe(block);
    expect(() => replaceMarkdownBlock(`x\n${MARKDOWN_END}\n`, block, MARKDOWN_BEGIN, MARKDOWN_END)).toThrow(/only one of the lines/);
  });
});
