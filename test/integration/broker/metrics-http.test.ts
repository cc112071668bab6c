/**
 * The metrics endpoint's text writer and its HTTP server, over real sockets: the exposition format, one path, GET
 * and HEAD only, bounded requests, a clear error for a port in use, and a close that ends keep-alive connections.
 */
import { connect, createServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { renderExposition, startMetricsServer, MetricsListenError, type MetricsServer } from '../../../broker/metrics-http.js';
import { httpRequest, parseExposition, scrape, valueOf } from '../../helpers/prometheus.js';

const servers: MetricsServer[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

async function serve(render: () => string = () => renderExposition([{ name: 'x_total', help: 'x', type: 'counter', samples: [{ labels: {}, value: 1 }] }])) {
  const s = await startMetricsServer({ host: '127.0.0.1', port: 0, render });
  servers.push(s);
  return s;
}

/** Raw bytes to the server; resolves with what came back when the server closed the connection (or after timeoutMs). */
function raw(port: number, chunks: string[], timeoutMs: number): Promise<{ text: string; closedAfterMs: number | undefined }> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const s = connect({ host: '127.0.0.1', port });
    sockets.push(s);
    let text = '';
    const timer = setTimeout(() => resolve({ text, closedAfterMs: undefined }), timeoutMs);
    s.on('data', (d) => (text += d.toString('latin1')));
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ text, closedAfterMs: Date.now() - started });
    });
    s.on('error', reject);
    s.on('connect', () => {
      for (const c of chunks) s.write(c);
    });
  });
}

describe('the exposition writer', () => {
  it('writes HELP and TYPE once per family, escapes label values and help, and histograms with le buckets', () => {
    const text = renderExposition([
      { name: 'a_total', help: 'with \\ and\nnewline', type: 'counter', samples: [{ labels: { g: 'q"u\\o\nte' }, value: 3 }] },
      { name: 'empty_total', help: 'no samples yet', type: 'counter', samples: [] },
      { name: 'g', help: 'gauge', type: 'gauge', samples: [{ labels: {}, value: Infinity }, { labels: { k: 'v' }, value: NaN }] },
      { name: 'h_seconds', help: 'histogram', type: 'histogram', samples: [{ labels: { g: 'x' }, upperBounds: [0.001, 0.5], cumulative: [1, 3, 4], sum: 0.75 }] },
    ]);
    expect(text).toBe(
      [
        '# HELP a_total with \\\\ and\\nnewline',
        '# TYPE a_total counter',
        'a_total{g="q\\"u\\\\o\\nte"} 3',
        '# HELP empty_total no samples yet',
        '# TYPE empty_total counter',
        '# HELP g gauge',
        '# TYPE g gauge',
        'g +Inf',
        'g{k="v"} NaN',
        '# HELP h_seconds histogram',
        '# TYPE h_seconds histogram',
        'h_seconds_bucket{g="x",le="0.001"} 1',
        'h_seconds_bucket{g="x",le="0.5"} 3',
        'h_seconds_bucket{g="x",le="+Inf"} 4',
        'h_seconds_sum{g="x"} 0.75',
        'h_seconds_count{g="x"} 4',
        '',
      ].join('\n'),
    );
    const parsed = parseExposition(text);
    expect(parsed.problems).toEqual([]);
    expect(valueOf(parsed, 'a_total', { g: 'q"u\\o\nte' })).toBe(3);
  });

  it('refuses invalid names and a family given twice', () => {
    expect(() => renderExposition([{ name: 'bad-name', help: 'x', type: 'gauge', samples: [] }])).toThrow(/invalid metric name/);
    expect(() => renderExposition([{ name: 'ok', help: 'x', type: 'gauge', samples: [{ labels: { 'bad-label': 'v' }, value: 1 }] }])).toThrow(/invalid label name/);
    expect(() => renderExposition([{ name: 'h', help: 'x', type: 'histogram', samples: [{ labels: { le: '1' }, upperBounds: [], cumulative: [0], sum: 0 }] }])).toThrow(/invalid label name/);
    const twice = { name: 'dup', help: 'x', type: 'gauge' as const, samples: [] };
    expect(() => renderExposition([twice, twice])).toThrow(/twice/);
  });

  it('the test reader catches what Prometheus would refuse', () => {
    const bad = [
      '# TYPE c_total counter',
      'c_total 1',
      '# TYPE h histogram',
      'h_bucket{le="1"} 5',
      'h_bucket{le="2"} 4',
      'h_bucket{le="+Inf"} 6',
      'h_sum 1',
      'h_count 7',
      'c_total 2',
      'orphan 1',
      '',
    ].join('\n');
    const problems = parseExposition(bad).problems.join('\n');
    expect(problems).toMatch(/below the one before/);
    expect(problems).toMatch(/\+Inf 6 != _count 7/);
    expect(problems).toMatch(/apart from the rest of its family/);
    expect(problems).toMatch(/without a TYPE/);
  });
});

describe('the metrics HTTP server', () => {
  it('answers GET /metrics (query string allowed) with the text and its content type, and HEAD without a body', async () => {
    const s = await serve();
    expect(s.url).toBe(`http://127.0.0.1:${s.port}/metrics`);
    const e = await scrape(s.url);
    expect(valueOf(e, 'x_total', {})).toBe(1);
    expect((await httpRequest(`${s.url}?name[]=x_total`)).status).toBe(200);
    const head = await httpRequest(s.url, { method: 'HEAD' });
    expect([head.status, head.body, head.headers['content-type']]).toEqual([200, '', 'text/plain; version=0.0.4; charset=utf-8']);
  });

  it('answers 404 to any other path and 405 (with Allow) to any other method', async () => {
    const s = await serve();
    const base = `http://127.0.0.1:${s.port}`;
    for (const path of ['/', '/metrics/', '/metricsx', '/favicon.ico', '/METRICS']) {
      expect((await httpRequest(base + path)).status, path).toBe(404);
    }
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS']) {
      const r = await httpRequest(s.url, { method });
      expect(r.status, method).toBe(405);
      expect(r.headers.allow).toBe('GET, HEAD');
      expect(r.headers.connection).toBe('close');
    }
  });

  it('refuses a request with a body (413), headers beyond 8 KiB (431) and garbage (400), closing the connection', async () => {
    const s = await serve();
    // Node's client sends a GET body without saying its length unless told.
    expect((await httpRequest(s.url, { headers: { 'content-length': '1000' }, body: 'x'.repeat(1000) })).status).toBe(413);
    const chunked = await raw(s.port, ['GET /metrics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n'], 3_000);
    expect(chunked.text).toMatch(/^HTTP\/1\.1 413/);
    expect(chunked.closedAfterMs).toBeDefined();
    const big = await raw(s.port, [`GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(10_000)}\r\n\r\n`], 3_000);
    expect(big.text).toMatch(/^HTTP\/1\.1 431/);
    expect(big.closedAfterMs).toBeDefined();
    const garbage = await raw(s.port, ['\x16\x03\x01 not http at all\r\n\r\n'], 3_000);
    expect(garbage.text).toMatch(/^HTTP\/1\.1 400/);
    expect(garbage.closedAfterMs).toBeDefined();
  });

  it('closes a connection whose headers do not arrive within 5 s', async () => {
    const s = await serve();
    const slow = await raw(s.port, ['GET /metrics HTTP/1.1\r\nHost: x\r\n'], 9_000);
    expect(slow.closedAfterMs).toBeDefined();
    expect(slow.closedAfterMs!).toBeGreaterThanOrEqual(4_500);
    expect(slow.closedAfterMs!).toBeLessThan(8_000);
    expect(slow.text).toMatch(/^HTTP\/1\.1 408/);
  }, 15_000);

  it('answers 500 with the reason when the figures cannot be rendered, and keeps serving', async () => {
    let fail = true;
    const s = await serve(() => {
      if (fail) throw new Error('no figures');
      return '';
    });
    const r = await httpRequest(s.url);
    expect([r.status, r.body]).toEqual([500, 'Internal Server Error: no figures\n']);
    fail = false;
    expect((await httpRequest(s.url)).status).toBe(200);
  });

  it('says clearly that the port is in use', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const err = await startMetricsServer({ host: '127.0.0.1', port, render: () => '' }).then(
        (s) => {
          servers.push(s);
          return undefined;
        },
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(MetricsListenError);
      expect((err as Error).message).toBe(
        `cannot serve metrics on 127.0.0.1:${port}: address already in use (another process listens there; choose another port, or 0 for a free one)`,
      );
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
  });

  it('close() ends idle keep-alive connections at once and stops listening', async () => {
    const s = await startMetricsServer({ host: '127.0.0.1', port: 0, render: () => '' });
    const kept = raw(s.port, ['GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n'], 5_000);
    await new Promise((r) => setTimeout(r, 200));
    const started = Date.now();
    await s.close();
    expect(Date.now() - started).toBeLessThan(1_000);
    const answer = await kept;
    expect(answer.text).toMatch(/^HTTP\/1\.1 200/);
    expect(answer.closedAfterMs).toBeDefined();
    await expect(httpRequest(s.url, { timeoutMs: 2_000 })).rejects.toThrow(/ECONNREFUSED/);
  });
});
