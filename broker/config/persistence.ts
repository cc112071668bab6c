/**
 * The mosquitto.conf lines of persistence: Mosquitto 2.0's `persistence`, `persistence_location`, `persistence_file`,
 * `autosave_interval`, `autosave_on_changes`, and the mqbench option `persistence_fsync`. Each line sets one field,
 * in any order; `persistence true` turns the store on.
 */
import { defaultPersistenceOptions, type BrokerOptions, type FsyncPolicy, type PersistenceOptions } from '../options.js';
import { parseBoolean, parseInteger } from './context.js';

/** What a setter of this table needs of the line being read (config.ts passes more). */
interface PersistenceLine {
  out: Partial<BrokerOptions>;
}

type PersistenceSetter = (value: string, ctx: PersistenceLine) => string | undefined;

export const FSYNC_POLICIES: readonly FsyncPolicy[] = ['batch', 'write', 'never'];

function settings(ctx: PersistenceLine): PersistenceOptions {
  return (ctx.out.persistence ??= defaultPersistenceOptions());
}

export const PERSISTENCE_SETTERS: Record<string, PersistenceSetter> = {
  persistence(value, ctx) {
    const b = parseBoolean(value);
    if (b === undefined) return `persistence must be true or false, got "${value}"`;
    settings(ctx).enabled = b;
    return undefined;
  },
  persistence_location(value, ctx) {
    settings(ctx).location = value;
    return undefined;
  },
  persistence_file(value, ctx) {
    if (value.endsWith('/')) return `persistence_file is a file name, got the directory "${value}" (persistence_location names the directory)`;
    settings(ctx).file = value;
    return undefined;
  },
  autosave_interval(value, ctx) {
    const n = parseInteger(value, 0, 2 ** 31 - 1);
    if (n === undefined) return `autosave_interval must be an integer from 0 to ${2 ** 31 - 1}, got "${value}"`;
    settings(ctx).autosaveInterval = n;
    return undefined;
  },
  autosave_on_changes(value, ctx) {
    const b = parseBoolean(value);
    if (b === undefined) return `autosave_on_changes must be true or false, got "${value}"`;
    settings(ctx).autosaveOnChanges = b;
    return undefined;
  },
  persistence_fsync(value, ctx) {
    if (!(FSYNC_POLICIES as readonly string[]).includes(value)) {
      return `persistence_fsync must be one of ${FSYNC_POLICIES.join(', ')}, got "${value}"`;
    }
    settings(ctx).fsync = value as FsyncPolicy;
    return undefined;
  },
};
