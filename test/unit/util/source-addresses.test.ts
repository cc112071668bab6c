/** Source address lists: what each form expands to, what is refused, and when local ports run out. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_SOURCE_ADDRESSES, expandSourceAddresses, portShortfall } from '../../../src/util/source-addresses.js';

const nics = {
  lo: [{ address: '127.0.0.1', family: 'IPv4' }, { address: '::1', family: 'IPv6' }],
  eth0: [{ address: '10.1.2.3', family: 'IPv4' }, { address: 'fe80::1', family: 'IPv6' }],
  down: [{ address: 'fe80::2', family: 'IPv6' }],
} as unknown as NodeJS.Dict<import('node:os').NetworkInterfaceInfo[]>;

function addresses(text: string): string[] {
  const r = expandSourceAddresses(text, nics);
  if ('error' in r) throw new Error(r.error);
  return r.addresses;
}

function error(text: string): string {
  const r = expandSourceAddresses(text, nics);
  if (!('error' in r)) throw new Error(`expected an error for ${text}, got ${r.addresses.join(' ')}`);
  return r.error;
}

describe('expandSourceAddresses', () => {
  it('expands ranges, short ranges, interfaces and single addresses, each address once in order', () => {
    expect(addresses('127.0.0.2-127.0.0.4')).toEqual(['127.0.0.2', '127.0.0.3', '127.0.0.4']);
    expect(addresses('10.0.0.254-10.0.1.1')).toEqual(['10.0.0.254', '10.0.0.255', '10.0.1.0', '10.0.1.1']);
    expect(addresses('127.0.0.8-9, ::1 eth0')).toEqual(['127.0.0.8', '127.0.0.9', '::1', '10.1.2.3']);
    expect(addresses('127.0.0.2,127.0.0.2-3')).toEqual(['127.0.0.2', '127.0.0.3']);
  });

  it('refuses what is not an address, a range or an interface, naming the interfaces', () => {
    expect(error('300.1.1.1')).toMatch(/"300\.1\.1\.1" is not an IP address/);
    expect(expandSourceAddresses('wlan9', nics)).toMatchObject({ hint: 'interfaces here: lo, eth0, down' });
    expect(error('127.0.0.9-127.0.0.2')).toMatch(/ends before it starts/);
    expect(error('127.0.0.2-300')).toMatch(/last part from 0 to 255/);
    expect(error('down')).toMatch(/interface down has no address/);
    expect(error(' , ')).toMatch(/no source address/);
    expect(error('10.0.0.0-10.255.255.255')).toMatch(/more than 4096/);
    expect(error('10.0.0.0-10.0.15.255,10.0.16.0')).toMatch(/more than 4096/);
  });

  it('a range of n addresses gives n distinct addresses from its first to its last', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.integer({ min: 0, max: 300 }), (start, span) => {
        const end = Math.min(2 ** 32 - 1, start + span);
        const ip = (n: number) => [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
        const got = addresses(`${ip(start)}-${ip(end)}`);
        expect(got.length).toBe(end - start + 1);
        expect(new Set(got).size).toBe(got.length);
        expect(got[0]).toBe(ip(start));
        expect(got[got.length - 1]).toBe(ip(end));
        expect(got.length).toBeLessThanOrEqual(MAX_SOURCE_ADDRESSES);
      }),
    );
  });
});

describe('portShortfall', () => {
  const range = { low: 32768, high: 60999 };

  it('fits as many clients per address as the port range holds, and no more', () => {
    expect(portShortfall(28_232, [], 'b:1883', range)).toBeUndefined();
    expect(portShortfall(28_233, [], 'b:1883', range)).toMatch(
      /28233 clients towards b:1883 from one source address need up to 28233 local ports per address, and this machine has 28232 \(net\.ipv4\.ip_local_port_range 32768 60999\): give at least 2 source addresses/,
    );
    expect(portShortfall(100_000, ['a', 'b', 'c', 'd'], 'b:1883', range)).toBeUndefined();
    expect(portShortfall(100_000, ['a', 'b', 'c'], 'b:1883', range)).toMatch(/from 3 source addresses need up to 33334 .* at least 4 source addresses/);
  });
});
