/**
 * Table-driven check shapes: most normative statements come down to "send this, and the broker must close the
 * connection" or "send this, and the broker must answer with that".
 */
import type { Packet, PacketCmd } from 'mqtt-packet';
import type { RawClient } from '../client.js';
import { CheckFailed, type Check, type CheckContext } from '../check.js';
import type { MqttVersion } from '../statements.js';

export interface ClosesRow {
  id: string;
  version: MqttVersion;
  statements: string[];
  title: string;
  /** Send the offending bytes or packets. `client` is connected first unless `before: 'open'`. */
  send(client: RawClient, ctx: CheckContext): void | Promise<void>;
  before?: 'open' | 'connect';
  /**
   * MQTT 5: reason codes a DISCONNECT the broker sends before closing may carry (it may also close without one).
   * Undefined: any.
   */
  disconnectReasons?: number[];
}

/** The broker must close the connection after what `send` sends. */
export function closes(rows: ClosesRow[]): Check[] {
  return rows.map((row) => ({
    id: row.id,
    version: row.version,
    statements: row.statements,
    title: row.title,
    async run(ctx) {
      const client = row.before === 'open' ? await ctx.open() : await ctx.connect();
      await row.send(client, ctx);
      await client.closed(ctx.timeoutMs);
      if (row.disconnectReasons !== undefined) {
        const d = client.received.find((p) => p.cmd === 'disconnect');
        const rc = d && d.cmd === 'disconnect' ? (d.reasonCode ?? 0) : undefined;
        if (rc !== undefined && !row.disconnectReasons.includes(rc)) {
          throw new CheckFailed(`the broker closed with DISCONNECT reason 0x${rc.toString(16)}; expected one of ${row.disconnectReasons.map((r) => '0x' + r.toString(16)).join(', ')} (or none)`);
        }
      }
    },
  }));
}

export interface AnswersRow<C extends PacketCmd> {
  id: string;
  version: MqttVersion;
  statements: string[];
  title: string;
  send(client: RawClient, ctx: CheckContext): void | Promise<void>;
  before?: 'open' | 'connect';
  /** The reply expected, and what must hold of it (throw CheckFailed, or return a failure message). */
  reply: C;
  expect?(packet: Extract<Packet, { cmd: C }>, ctx: CheckContext): string | undefined | void;
}

/** The broker must answer what `send` sends with a `reply` packet meeting `expect`. */
export function answers<C extends PacketCmd>(rows: AnswersRow<C>[]): Check[] {
  return rows.map((row) => ({
    id: row.id,
    version: row.version,
    statements: row.statements,
    title: row.title,
    async run(ctx) {
      const client = row.before === 'open' ? await ctx.open() : await ctx.connect();
      await row.send(client, ctx);
      const packet = await client.next(row.reply, ctx.timeoutMs);
      const problem = row.expect?.(packet as Extract<Packet, { cmd: C }>, ctx);
      if (typeof problem === 'string') throw new CheckFailed(problem);
    },
  }));
}

/** The same row for both versions: ids get the version prefix, statements are given per version. */
export function bothVersions<R extends { id: string; version: MqttVersion; statements: string[] }>(
  row: Omit<R, 'id' | 'version' | 'statements'> & { name: string; statements: { '3.1.1'?: string[]; '5.0'?: string[] } },
): R[] {
  const out: R[] = [];
  for (const version of ['3.1.1', '5.0'] as const) {
    const statements = row.statements[version];
    if (statements === undefined) continue;
    const { name, statements: _, ...rest } = row;
    out.push({ ...(rest as unknown as R), id: `${version}/${name}`, version, statements });
  }
  return out;
}
