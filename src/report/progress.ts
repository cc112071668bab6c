/**
 * The live line printed once a second while a run goes on: a fixed-width line for a terminal (rewritten in place),
 * and the same facts as a key=value log line for a pipe or a CI log.
 */
import { formatClock, formatCount, formatMsNumber, formatRateNumber, NOT_AVAILABLE } from './format.js';

/** What the live line shows; the CLI fills it from the workers' progress snapshots. */
export interface ProgressView {
  /** Seconds since the run started. */
  elapsedSec: number;
  /** Clients connected now. */
  connected: number;
  /** Clients in the run. */
  clients: number;
  /** Messages sent and received during the last second. */
  sentPerSec: number;
  receivedPerSec: number;
  /** Errors so far. */
  errors: number;
  /** End-to-end p99 so far in µs; undefined before the first message arrives. */
  p99Us: number | undefined;
}

export interface ProgressOptions {
  color?: boolean;
}

const RED = '\u001b[31m';
const DIM = '\u001b[2m';
const RESET = '\u001b[0m';

/**
 * "00:12  connected 980/1,000  sent 5,012/s  received 4,998/s  errors 3  e2e p99 4.21 ms". Numbers are padded so
 * the line does not jitter from one second to the next; the caller rewrites it in place (e.g. "\r" + line).
 */
export function renderProgressLine(p: ProgressView, options: ProgressOptions = {}): string {
  const color = options.color === true;
  const clients = formatCount(p.clients);
  const label = (s: string): string => (color ? `${DIM}${s}${RESET}` : s);
  const errors = formatCount(p.errors);
  const errorText = color && p.errors > 0 ? `${RED}${errors.padStart(4)}${RESET}` : errors.padStart(4);
  const p99 = p.p99Us === undefined ? '-' : `${formatMsNumber(p.p99Us)} ms`;
  return [
    formatClock(p.elapsedSec).padStart(5),
    `${label('connected')} ${formatCount(p.connected).padStart(clients.length)}/${clients}`,
    `${label('sent')} ${formatRateNumber(p.sentPerSec).padStart(7)}/s`,
    `${label('received')} ${formatRateNumber(p.receivedPerSec).padStart(7)}/s`,
    `${label('errors')} ${errorText}`,
    `${label('e2e p99')} ${p99.padStart(9)}`,
  ].join('  ');
}

/**
 * The same facts as one log line without padding or colour, numbers without separators:
 * "elapsed=12s connected=980/1000 sent=5012/s received=4998/s errors=3 e2e_p99=4.21ms".
 */
export function renderProgressLog(p: ProgressView): string {
  const p99 = p.p99Us === undefined ? NOT_AVAILABLE : `${formatMsNumber(p.p99Us).replace(/,/g, '')}ms`;
  return [
    `elapsed=${Number.isFinite(p.elapsedSec) ? `${Math.floor(p.elapsedSec)}s` : NOT_AVAILABLE}`,
    `connected=${plainNumber(p.connected)}/${plainNumber(p.clients)}`,
    `sent=${plainRate(p.sentPerSec)}`,
    `received=${plainRate(p.receivedPerSec)}`,
    `errors=${plainNumber(p.errors)}`,
    `e2e_p99=${p99}`,
  ].join(' ');
}

function plainNumber(n: number): string {
  return Number.isFinite(n) ? String(Math.round(n)) : NOT_AVAILABLE;
}

function plainRate(n: number): string {
  return Number.isFinite(n) ? `${formatRateNumber(n).replace(/,/g, '')}/s` : NOT_AVAILABLE;
}
