/**
 * Source addresses for clients (`broker.sourceAddresses`, `--source-ip`): written as addresses, IPv4 ranges and
 * interface names, expanded to a list; checked up front against this machine's addresses and its ephemeral port range,
 * so that exhaustion is a message with the numbers rather than a wave of EADDRNOTAVAIL part way through a run.
 */
import { readFileSync } from 'node:fs';
import { createServer, isIP, isIPv4 } from 'node:net';
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';

/** Most addresses one list may expand to (a /20 of IPv4): more than any one machine has ports to use. */
export const MAX_SOURCE_ADDRESSES = 4096;

export type Expanded = { addresses: string[] } | { error: string; hint?: string };

/**
 * `127.0.0.2-127.0.0.9`, `10.0.0.5-20` (last part), `::1`, `eth0` (its addresses), separated by commas or spaces; each
 * address once, in the order written.
 */
export function expandSourceAddresses(text: string, interfaces: NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces()): Expanded {
  const entries = text.split(/[\s,]+/).filter((e) => e !== '');
  if (entries.length === 0) return { error: 'no source address given', hint: 'e.g. 127.0.0.2-127.0.0.9' };
  const out = new Set<string>();
  for (const entry of entries) {
    const more = expandOne(entry, interfaces);
    if ('error' in more) return more;
    for (const a of more.addresses) {
      out.add(a);
      if (out.size > MAX_SOURCE_ADDRESSES) return { error: `more than ${MAX_SOURCE_ADDRESSES} source addresses` };
    }
  }
  return { addresses: [...out] };
}

function expandOne(entry: string, interfaces: NodeJS.Dict<NetworkInterfaceInfo[]>): Expanded {
  if (isIP(entry) !== 0) return { addresses: [entry] };
  const dash = entry.indexOf('-');
  if (dash > 0 && isIPv4(entry.slice(0, dash))) {
    const from = ipv4ToNumber(entry.slice(0, dash));
    const endText = entry.slice(dash + 1);
    let to: number;
    if (isIPv4(endText)) to = ipv4ToNumber(endText);
    else if (/^\d{1,3}$/.test(endText) && Number(endText) <= 255) to = (from & ~0xff) + Number(endText);
    else return { error: `"${entry}": a range ends with an IPv4 address or a last part from 0 to 255`, hint: 'e.g. 127.0.0.2-127.0.0.9 or 127.0.0.2-9' };
    if (to < from) return { error: `"${entry}": the range ends before it starts` };
    if (to - from + 1 > MAX_SOURCE_ADDRESSES) return { error: `"${entry}": ${to - from + 1} addresses, more than ${MAX_SOURCE_ADDRESSES}` };
    const addresses: string[] = [];
    for (let n = from; n <= to; n++) addresses.push(numberToIpv4(n));
    return { addresses };
  }
  const nic = interfaces[entry];
  if (nic !== undefined) {
    // Link-local IPv6 addresses need a scope to bind; the interface's other addresses serve.
    const usable = nic.filter((i) => !(i.family === 'IPv6' && i.address.toLowerCase().startsWith('fe80:'))).map((i) => i.address);
    if (usable.length === 0) return { error: `interface ${entry} has no address to connect from` };
    return { addresses: usable };
  }
  const names = Object.keys(interfaces);
  return {
    error: `"${entry}" is not an IP address, a range like 127.0.0.2-127.0.0.9, or an interface of this machine`,
    hint: names.length > 0 ? `interfaces here: ${names.join(', ')}` : undefined,
  };
}

function ipv4ToNumber(text: string): number {
  return text.split('.').reduce((n, part) => n * 256 + Number(part), 0);
}

function numberToIpv4(n: number): string {
  return `${Math.floor(n / 16_777_216) % 256}.${Math.floor(n / 65_536) % 256}.${Math.floor(n / 256) % 256}.${n % 256}`;
}

/** The kernel's ephemeral port range (`net.ipv4.ip_local_port_range`), or Linux's default where it cannot be read. */
export function localPortRange(): { low: number; high: number } {
  try {
    const [low, high] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'latin1').trim().split(/\s+/).map(Number);
    if (Number.isInteger(low) && Number.isInteger(high) && high >= low) return { low, high };
  } catch {
    // Not Linux, or no /proc: the default below.
  }
  return { low: 32768, high: 60999 };
}

/**
 * Why `clients` connections will not find local ports, with the numbers and what would make them fit; undefined
 * when they fit. Each client holds one local port at a time; with source addresses given, clients are spread evenly
 * over them and each address has the whole range; without, every client shares one address towards `target`.
 */
export function portShortfall(clients: number, sources: readonly string[], target: string, range = localPortRange()): string | undefined {
  const ports = range.high - range.low + 1;
  const perSource = Math.ceil(clients / Math.max(1, sources.length));
  if (perSource <= ports) return undefined;
  const needed = Math.ceil(clients / ports);
  const from = sources.length === 0 ? 'one source address' : `${sources.length} source address${sources.length === 1 ? '' : 'es'}`;
  return (
    `${clients} clients towards ${target} from ${from} need up to ${perSource} local ports per address, and this machine has ` +
    `${ports} (net.ipv4.ip_local_port_range ${range.low} ${range.high}): give at least ${needed} source addresses ` +
    `(e.g. --source-ip 127.0.0.2-127.0.0.${Math.min(255, needed + 1)} on loopback, or addresses of this machine's interfaces), ` +
    `or widen the range: sysctl -w net.ipv4.ip_local_port_range="1024 65535"`
  );
}

/**
 * The first address this machine cannot connect from (it is not one of its addresses), with why; undefined when every
 * one can be bound. Each is bound once on port 0 and released; the whole check is bounded by `timeoutMs`.
 */
export async function unbindableSource(addresses: readonly string[], timeoutMs = 5_000): Promise<string | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (const address of addresses) {
    const left = deadline - Date.now();
    if (left <= 0) return `checking the source addresses took longer than ${timeoutMs / 1000} s`;
    const why = await tryBind(address, left);
    if (why !== undefined) return `source address ${address}: ${why}`;
  }
  return undefined;
}

function tryBind(address: string, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    const timer = setTimeout(() => {
      server.close();
      resolve(`no answer from the system within ${timeoutMs} ms`);
    }, timeoutMs);
    server.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(err.code === 'EADDRNOTAVAIL' ? 'not an address of this machine' : err.message);
    });
    server.listen({ host: address, port: 0, exclusive: true }, () => {
      clearTimeout(timer);
      server.close(() => resolve(undefined));
    });
  });
}
