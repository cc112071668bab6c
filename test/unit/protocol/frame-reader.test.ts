import { describe, expect, it } from 'vitest';
import { FrameReader, type FrameSink } from '../../../src/protocol/frame-reader.js';
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
    const reader = new FrameReader(sink);
    reader.maxPacket = 100;
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
    const reader = new FrameReader(strict.sink);
    reader.minimalLengths = true;
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
});
