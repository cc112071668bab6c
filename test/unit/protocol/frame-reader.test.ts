import { describe, expect, it } from 'vitest';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { PartialBudget } from '../../../broker/partial-budget.js';
import { FrameReader, NO_FRAME_LIMITS, UNBUDGETED_BYTES, type FrameSink } from '../../../src/protocol/frame-reader.js';
import { framePacket } from '../../../src/protocol/varint.js';

interface Seen {
  frames: Array<{ header: number; body: string }>;
  errors: string[];
}

function collector(opts: { stopAfter?: number; refuseHeader?: number } = {}): { sink: FrameSink; seen: Seen } {
  const seen: Seen = { frames: [], errors: [] };
  const sink: FrameSink = {
    onFrame(header, buf, start, end) {
      seen.frames.push({ header, body: buf.subarray(start, end).toString('hex') });
      return opts.stopAfter === undefined || seen.frames.length % opts.stopAfter !== 0;
    },
    onFrameError(kind, detail) {
      seen.errors.push(`${kind}: ${detail}`);
    },
    acceptHeader(header) {
      return header !== opts.refuseHeader;
    },
  };
  return { sink, seen };
}

const packet = framePacket;

const bodies = [Buffer.alloc(0), Buffer.from('ab'), Buffer.alloc(200, 7), Buffer.alloc(20_000, 9)];
const stream = Buffer.concat(bodies.map((b, i) => packet(0x30 + i, b)));
const expected = bodies.map((b, i) => ({ header: 0x30 + i, body: b.toString('hex') }));

describe('FrameReader', () => {
  it('frames packets of 0, 1, 2 and 3 length bytes in one read', () => {
    const { sink, seen } = collector();
    new FrameReader(sink).feed(stream);
    expect(seen.frames).toEqual(expected);
    expect(seen.errors).toEqual([]);
  });

  it('frames the same packets whatever the reads are cut into', () => {
    // Every cut point inside the first 300 bytes (headers, length bytes and bodies), then a byte at a time.
    for (let cut = 1; cut < 300; cut++) {
      const { sink, seen } = collector();
      const reader = new FrameReader(sink);
      reader.feed(stream.subarray(0, cut));
      reader.feed(stream.subarray(cut));
      expect(seen.frames, `cut at ${cut}`).toEqual(expected);
    }
    const { sink, seen } = collector();
    const reader = new FrameReader(sink);
    for (let i = 0; i < stream.length; i++) reader.feed(stream.subarray(i, i + 1));
    expect(seen.frames).toEqual(expected);
  });

  it('stops when the sink asks and hands on the rest on resume, including bytes fed meanwhile', () => {
    const { sink, seen } = collector({ stopAfter: 1 });
    const reader = new FrameReader(sink);
    reader.feed(stream.subarray(0, 10));
    expect(seen.frames).toHaveLength(1);
    expect(reader.paused).toBe(true);
    reader.feed(stream.subarray(10));
    expect(seen.frames).toHaveLength(1);
    for (let n = 2; n <= expected.length; n++) {
      reader.resume();
      expect(seen.frames).toHaveLength(n);
    }
    expect(seen.frames).toEqual(expected);
  });

  it('refuses a remaining length of more than 4 bytes', () => {
    const { sink, seen } = collector();
    const reader = new FrameReader(sink);
    reader.feed(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]));
    expect(seen.errors).toEqual(['malformed: remaining length is longer than 4 bytes']);
    reader.feed(packet(0xc0, Buffer.alloc(0)));
    expect(seen.frames).toEqual([]);
  });

  it('refuses a packet larger than maxPacket before its body arrives', () => {
    const { sink, seen } = collector();
    const reader = new FrameReader(sink, { ...NO_FRAME_LIMITS, maxPacket: 100 });
    reader.feed(packet(0x30, Buffer.alloc(99)).subarray(0, 3));
    expect(seen.errors).toEqual(['too-large: packet of 101 bytes is larger than 100']);
  });

  it('accepts a non-minimal remaining length unless minimalLengths is set', () => {
    const lenient = collector();
    new FrameReader(lenient.sink).feed(Buffer.from([0xc0, 0x80, 0x00, 0xc0, 0x00]));
    expect(lenient.seen.frames).toEqual([
      { header: 0xc0, body: '' },
      { header: 0xc0, body: '' },
    ]);

    const strict = collector();
    const reader = new FrameReader(strict.sink, { ...NO_FRAME_LIMITS, minimalLengths: true });
    reader.feed(Buffer.from([0xc0, 0x00, 0x30, 0x81, 0x00]));
    expect(strict.seen.frames).toEqual([{ header: 0xc0, body: '' }]);
    expect(strict.seen.errors).toEqual(['malformed: remaining length is not in its shortest encoding']);
  });

  it('stops for good when the sink refuses a header', () => {
    const { sink, seen } = collector({ refuseHeader: 0x00 });
    const reader = new FrameReader(sink);
    reader.feed(Buffer.concat([packet(0xc0, Buffer.alloc(0)), Buffer.from([0x00, 0x00]), packet(0xc0, Buffer.alloc(0))]));
    expect(seen.frames).toEqual([{ header: 0xc0, body: '' }]);
  });

  it('holds about as many bytes as it received of a packet that arrives a byte at a time', () => {
    const budget = new PartialBudget(Infinity);
    const { sink, seen } = collector();
    const reader = new FrameReader(sink, { ...NO_FRAME_LIMITS, budget });
    const body = Buffer.alloc(300_000, 5);
    const bytes = packet(0x30, body);
    for (let i = 0; i < bytes.length; i++) {
      reader.feed(bytes.subarray(i, i + 1));
      if (i === 200_000) {
        expect(reader.partialBytes).toBe(200_001);
        // The assembly buffer at most doubles what arrived; beyond the first 64 KiB it is charged to the budget.
        expect(budget.used).toBeLessThanOrEqual(2 * 200_001 - UNBUDGETED_BYTES);
        expect(budget.used).toBeGreaterThanOrEqual(200_001 - UNBUDGETED_BYTES);
      }
    }
    expect(seen.frames).toEqual([{ header: 0x30, body: body.toString('hex') }]);
    expect(budget.used).toBe(0);
  });

  it('stops when the budget refuses, keeps what it was given, and goes on when woken', async () => {
    const budget = new PartialBudget(100_000);
    budget.take(50_000, 0); // held by another reader
    const { sink, seen } = collector();
    let starved = 0;
    let fed = 0;
    const reader = new FrameReader({ ...sink, onStarved: () => starved++, onFed: () => fed++ }, { ...NO_FRAME_LIMITS, budget });
    const big = packet(0x30, Buffer.alloc(200_000, 1));
    const small = packet(0x40, Buffer.from([0, 1]));
    reader.feed(big.subarray(0, 150_000));
    expect(starved).toBe(1);
    expect(reader.paused).toBe(true);
    reader.feed(Buffer.concat([big.subarray(150_000), small]));
    expect(seen.frames).toEqual([]);
    budget.give(50_000); // the other reader finished
    await nextTurn();
    expect(fed).toBe(1);
    expect(seen.frames.map((f) => f.header)).toEqual([0x30, 0x40]);
    expect(budget.used).toBe(0);
  });

  it('is idle only while it holds nothing: no partial packet, nothing held, not stopped', () => {
    let more = true;
    const { sink } = collector();
    const reader = new FrameReader({ ...sink, onFrame: () => more });
    expect(reader.idle).toBe(true);
    const p = packet(0x30, Buffer.alloc(10, 1));
    reader.feed(p.subarray(0, 1));
    expect(reader.idle).toBe(false);
    reader.feed(p.subarray(1, 5));
    expect(reader.idle).toBe(false);
    reader.feed(p.subarray(5));
    expect(reader.idle).toBe(true);
    more = false;
    reader.feed(p);
    expect(reader.idle).toBe(false);
    more = true;
    reader.resume();
    expect(reader.idle).toBe(true);
    reader.kill();
    expect(reader.idle).toBe(false);
  });

  it('refuses a PUBLISH over maxPublish while other packets may be as large as maxPacket', () => {
    const { sink, seen } = collector();
    const reader = new FrameReader(sink, { ...NO_FRAME_LIMITS, maxPacket: 1_000, maxPublish: 100 });
    reader.feed(packet(0x82, Buffer.alloc(500, 1)));
    expect(seen.frames).toHaveLength(1);
    reader.feed(packet(0x30, Buffer.alloc(200, 1)).subarray(0, 4));
    expect(seen.errors).toEqual(['too-large: packet of 203 bytes is larger than 100']);
  });
});
