/**
 * mosquitto.conf lines about the log: `log_dest` (stderr, stdout, file <path>, none; several add up and replace the
 * default, standard error, as in Mosquitto), `connection_messages`, `log_timestamp_format`.
 */
import { lineWriter } from '../log.js';
import { timestampFormatProblem } from '../log-time.js';
import { booleanSetter, type LineContext, type Setter } from './context.js';

export const LOGGING_SETTERS: Record<string, Setter> = {
  log_dest(value, ctx) {
    ctx.logDests ??= new Set();
    const space = value.search(/\s/);
    const kind = space < 0 ? value : value.slice(0, space);
    if (kind === 'file') {
      const path = space < 0 ? '' : value.slice(space + 1).trim();
      if (path === '') return 'log_dest file needs a path';
      if (ctx.out.logFile !== undefined) return 'duplicate "log_dest file"';
      ctx.out.logFile = path;
      return undefined;
    }
    if (space >= 0) return `log_dest ${kind} takes no further value, got "${value}"`;
    if (kind === 'stderr' || kind === 'stdout') ctx.logDests.add(kind);
    else if (kind === 'none') {
      ctx.logDests.clear();
      delete ctx.out.logFile;
    } else return `log_dest "${value}" is not supported by the mqbench broker (supported: stderr, stdout, file <path>, none)`;
    return undefined;
  },
  connection_messages: booleanSetter('connection_messages', (b, ctx) => {
    ctx.out.connectionMessages = b;
  }),
  log_timestamp_format(value, ctx) {
    const problem = timestampFormatProblem(value);
    if (problem !== undefined) return problem;
    ctx.out.logTimestampFormat = value;
    return undefined;
  },
};

/** After the last line: the log sink the `log_dest` lines describe (untouched when there were none). */
export function finishLogging(ctx: LineContext): void {
  const dests = ctx.logDests;
  if (dests === undefined) return;
  const sinks = [...dests].map((d) => lineWriter(d === 'stdout' ? 1 : 2).write);
  if (sinks.length === 0) ctx.out.logSink = () => undefined;
  else if (sinks.length === 1) ctx.out.logSink = sinks[0];
  else
    ctx.out.logSink = (line) => {
      for (const s of sinks) s(line);
    };
}
