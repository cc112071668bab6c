/**
 * What a mosquitto.conf setter works on: the options being built, the listener block the line belongs to (the
 * default listener before any `listener` line, as in Mosquitto), and where the line is.
 */
import type { BrokerOptions, ListenerOptions, LogType, SecuritySettings } from '../options.js';

/** Applies one line's value; returns the problem with it, if any. */
export type Setter = (value: string, ctx: LineContext) => string | undefined;

/** A listener as its block is read: the options, and what the end-of-file checks need to know. */
export interface ListenerDraft extends ListenerOptions {
  /** Line of its `listener` line (0: the default listener). */
  line: number;
  /** File of its `listener` line. */
  file: string;
  /** Line of the first TLS option in the block, for the check that certfile and keyfile are both there. */
  tlsLine: number;
}

export interface LineContext {
  out: Partial<BrokerOptions>;
  /** Listeners from `listener` lines, in order. */
  listeners: ListenerDraft[];
  /**
   * Options given before any `listener` line that belong to a listener (port, bind_address, protocol, TLS, ...):
   * Mosquitto's default listener, which exists once one of them is given.
   */
  defaultListener: ListenerDraft;
  defaultListenerUsed: boolean;
  /** The block the current line is in: the default listener, or the last `listener`. */
  current: ListenerDraft;
  logTypes: Set<LogType> | undefined;
  sawAllowAnonymous: boolean;
  /** Line of a metrics_host, which needs a metrics_port somewhere in the file. */
  metricsHostLine: number;
  /** A security option was set (per_listener_settings must come before any). */
  securitySet: boolean;
  /** `log_dest` lines seen: they replace the default destination (standard error) and add up. */
  logDests: Set<'stderr' | 'stdout'> | undefined;
  /** Files read so far (the main file and include_dir's), and how deep the current one is included. */
  file: string;
  level: number;
  line: number;
  /** Lines to show at start-up (e.g. "Loading config file ..."). */
  notices: string[];
}

/** Where the current line's security options go: the listener's own with per_listener_settings, else the global ones. */
export function securityTarget(ctx: LineContext): Partial<SecuritySettings> {
  ctx.securitySet = true;
  if (ctx.out.perListenerSettings) return (ctx.current.security ??= {});
  return ctx.out;
}

export function parseInteger(text: string | undefined, min: number, max: number): number | undefined {
  if (text === undefined || !/^-?\d+$/.test(text)) return undefined;
  const n = Number(text);
  return n >= min && n <= max ? n : undefined;
}

/** Mosquitto's booleans: true/false (and 1/0, which Mosquitto also reads). */
export function parseBoolean(text: string): boolean | undefined {
  return text === 'true' || text === '1' ? true : text === 'false' || text === '0' ? false : undefined;
}

/** A boolean option's setter. */
export function booleanSetter(name: string, apply: (value: boolean, ctx: LineContext) => void): Setter {
  return (value, ctx) => {
    const b = parseBoolean(value);
    if (b === undefined) return `${name} must be true or false, got "${value}"`;
    apply(b, ctx);
    return undefined;
  };
}
