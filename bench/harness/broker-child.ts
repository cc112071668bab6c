/**
 * The bundled broker as a process of its own, for benchmarks that attack it: started with `startBroker()` from the
 * mosquitto.conf lines it is sent, it reports its port and then, every few milliseconds, its longest event-loop
 * delay. Nothing here catches the broker's errors: an uncaught exception ends this process, and the parent sees
 * the crash and its stack on stderr.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { brokerVersion, parseConfig, startBroker, type RunningBroker } from '../../broker/index.js';
import type { FromBrokerChild, StartBrokerChild, ToBrokerChild } from './broker-messages.js';

/** Timer resolution of the delay monitor: delays shorter than this are not told apart. */
const MONITOR_RESOLUTION_MS = 10;

function send(message: FromBrokerChild): void {
  process.send?.(message);
}

async function start(message: StartBrokerChild): Promise<void> {
  // Named so that a problem reads "--conf:2: …", the second line the benchmark was given.
  const parsed = parseConfig(message.conf.join('\n'), '--conf');
  if (parsed.problems.length > 0) {
    send({ type: 'start-failed', message: parsed.problems.map((p) => `${p.file}:${p.line}: ${p.message}`).join('\n') });
    process.exit(2);
  }
  let broker: RunningBroker;
  try {
    broker = await startBroker({
      ...parsed.options,
      // As the generated Mosquitto configuration: anonymous clients, errors logged, unless the lines say otherwise.
      allowAnonymous: parsed.options.allowAnonymous ?? true,
      logTypes: parsed.options.logTypes ?? new Set(['error']),
      listeners: [{ host: '127.0.0.1', port: 0 }],
      logSink: (line) => process.stderr.write(`${line}\n`),
    });
  } catch (err) {
    send({ type: 'start-failed', message: (err as Error).message });
    process.exit(2);
  }
  const monitor = monitorEventLoopDelay({ resolution: MONITOR_RESOLUTION_MS });
  monitor.enable();
  setInterval(() => {
    send({ type: 'loop-delay', maxMs: monitor.count > 0 ? monitor.max / 1e6 : 0 });
    monitor.reset();
  }, message.reportEveryMs);
  const stop = (): void => {
    void broker.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  send({ type: 'listening', host: broker.host, port: broker.port, version: brokerVersion() });
}

// The parent is gone (killed, or crashed itself): nobody will stop this broker, so stop now.
process.on('disconnect', () => process.exit(0));
process.once('message', (message: ToBrokerChild) => void start(message));
