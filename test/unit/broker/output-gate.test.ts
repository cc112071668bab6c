/**
 * The output gate over a real socket pair: bytes before the first pending mark go out at once, everything from a mark
 * on waits for its batch, batch by batch, in order, and nothing is held once every mark's batch is durable.
 */
import { createServer, connect, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import type { Durable, DurableWatcher } from '../../../broker/core/durable.js';
import { OutputGate } from '../../../broker/persist/output-gate.js';
import { sleep } from '../../helpers/raw-client.js';

/** The part of the store the gate uses: who watches, and reporting batches durable. */
class Batches {
  readonly watchers = new Set<DurableWatcher>();
  readonly store = {
    watch: (w: DurableWatcher) => this.watchers.add(w),
    unwatch: (w: DurableWatcher) => this.watchers.delete(w),
  } as unknown as Durable;

  durable(batch: number): void {
    for (const w of [...this.watchers]) w.durable(batch);
  }
}

describe('output gate', () => {
  let server: Server | undefined;
  const sockets: Socket[] = [];
  afterEach(async () => {
    for (const s of sockets.splice(0)) s.destroy();
    await new Promise<void>((done) => (server ? server.close(() => done()) : done()));
    server = undefined;
  });

  /** A connected pair: the gate writes into `out`; `received()` is what the far end has read so far. */
  async function pair(): Promise<{ out: Socket; received(): string }> {
    let text = '';
    const accepted = new Promise<Socket>((done) => {
      server = createServer((s) => {
        s.setEncoding('latin1').on('data', (d: string) => (text += d));
        done(s);
      });
    });
    await new Promise<void>((done) => server!.listen(0, '127.0.0.1', () => done()));
    const port = (server!.address() as { port: number }).port;
    const out = connect({ host: '127.0.0.1', port });
    await new Promise<void>((done) => out.once('connect', () => done()));
    sockets.push(out, await accepted);
    return { out, received: () => text };
  }

  it('holds from each mark until its batch is durable, releasing batch by batch in order', async () => {
    const { out, received } = await pair();
    const batches = new Batches();
    const gate = new OutputGate(out, batches.store);
    gate.write(Buffer.from('free;'));
    gate.mark(1, 5);
    gate.write(Buffer.from('ack1;more'));
    gate.mark(2, 14);
    gate.write(Buffer.from(';ack2;'));
    // A later mark for a batch no later than one pending already holds nothing more.
    gate.mark(2, 20);
    gate.write(Buffer.from('tail'));
    await sleep(50);
    expect(received()).toBe('free;');
    expect(gate.holding).toBe(19);
    expect(gate.writableLength).toBeGreaterThanOrEqual(19);
    batches.durable(1);
    await sleep(50);
    expect(received()).toBe('free;ack1;more');
    batches.durable(2);
    await sleep(50);
    expect(received()).toBe('free;ack1;more;ack2;tail');
    expect(gate.holding).toBe(0);
    expect(batches.watchers.size).toBe(0);
    // No marks: straight through.
    gate.write(Buffer.from('!'));
    await sleep(50);
    expect(received()).toBe('free;ack1;more;ack2;tail!');
  });

  it('splits a write at a mark that falls inside it, and ends the socket only once everything held is out', async () => {
    const { out, received } = await pair();
    const batches = new Batches();
    const gate = new OutputGate(out, batches.store);
    gate.mark(7, 3);
    gate.write(Buffer.from('abcdef'));
    gate.endAfterRelease();
    await sleep(50);
    expect(received()).toBe('abc');
    expect(out.writableEnded).toBe(false);
    batches.durable(7);
    await sleep(50);
    expect(received()).toBe('abcdef');
    expect(out.writableEnded).toBe(true);
  });

  it('drops what it holds when the connection is gone', async () => {
    const { out, received } = await pair();
    const batches = new Batches();
    const gate = new OutputGate(out, batches.store);
    gate.mark(1, 0);
    gate.write(Buffer.from('never'));
    gate.drop();
    expect(batches.watchers.size).toBe(0);
    batches.durable(1);
    await sleep(50);
    expect(received()).toBe('');
    expect(gate.holding).toBe(0);
  });
});
