/**
 * `mqbench run --metrics-port P`: the run's live figures on `GET /metrics` (Prometheus text format) while it lasts,
 * its final totals once it has ended, and optionally a wait after the end until a scrape has read them.
 */
import { MetricsListenError, processFamilies, renderExposition, startMetricsServer, type MetricsServer } from '../../broker/metrics-http.js';
import type { Aggregated } from '../run/aggregate.js';
import type { EngineReport } from '../engine/engine.js';
import { LiveMetrics } from '../run/live-metrics.js';
import type { RunHooks } from '../run/run.js';
import { parseDuration } from '../scenario/units.js';
import { CliError, EXIT } from './exit-codes.js';
import type { ShardSpec } from '../scenario/plan.js';

export const METRICS_OPTIONS = {
  'metrics-port': { type: 'string' },
  'metrics-host': { type: 'string' },
  'metrics-linger': { type: 'string' },
} as const;

export const METRICS_USAGE = `  --metrics-port <n>        serve GET /metrics (Prometheus text format) on this port while the run lasts; 0 picks
                            a free port (printed)
  --metrics-host <addr>     address for --metrics-port (default 127.0.0.1; 0.0.0.0 in a pod)
  --metrics-linger <time>   after the run, keep serving until a scrape has read the final totals, at most this long
                            (default 0s: close at once)`;

export interface MetricsSettings {
  host: string;
  port: number;
  lingerMs: number;
}

type MetricsValues = { [K in keyof typeof METRICS_OPTIONS]?: string };

/** The metrics options, checked (exit 2 with the reason); undefined without --metrics-port. */
export function readMetricsOptions(values: MetricsValues): MetricsSettings | undefined {
  const portText = values['metrics-port'];
  if (portText === undefined) {
    for (const other of ['metrics-host', 'metrics-linger'] as const) {
      if (values[other] !== undefined) throw new CliError(`--${other} needs --metrics-port as well`, EXIT.usage);
    }
    return undefined;
  }
  const port = /^\d+$/.test(portText) ? Number(portText) : NaN;
  if (!(port >= 0 && port <= 65535)) throw new CliError(`--metrics-port must be 0-65535, got "${portText}"`, EXIT.usage);
  const host = values['metrics-host'] ?? '127.0.0.1';
  if (host === '' || /\s/.test(host)) throw new CliError(`--metrics-host must be an address, got "${host}"`, EXIT.usage);
  let lingerMs = 0;
  if (values['metrics-linger'] !== undefined) {
    const parsed = parseDuration(values['metrics-linger']);
    if ('error' in parsed) throw new CliError(`--metrics-linger: ${parsed.error}${parsed.hint ? ` (${parsed.hint})` : ''}`, EXIT.usage);
    lingerMs = parsed.value;
  }
  return { host, port, lingerMs };
}

/** The shard label: this process's shard index (--shard I/N, or --shards N with I from the environment), else "0". */
export function shardLabel(spec: ShardSpec | undefined): string {
  return String(spec?.index ?? 0);
}

export class RunMetrics {
  /** Ends a linger: the final totals were scraped. */
  private finalScraped = false;
  private onFinalScrape: (() => void) | undefined;

  private constructor(
    readonly live: LiveMetrics,
    private readonly server: MetricsServer,
    private readonly lingerMs: number,
  ) {}

  /** Listens before anything connects: a port that cannot be had stops the run at once (exit 2). */
  static async start(settings: MetricsSettings, groups: readonly string[], labels: { scenario: string; shard: string }): Promise<RunMetrics> {
    const live = new LiveMetrics(groups, labels);
    let self: RunMetrics | undefined;
    let server: MetricsServer;
    try {
      server = await startMetricsServer({
        host: settings.host,
        port: settings.port,
        render: () => renderExposition([...live.families(), ...processFamilies()]),
        onScrape: () => self?.scraped(),
      });
    } catch (err) {
      if (err instanceof MetricsListenError) throw new CliError(`${err.message}`, EXIT.usage);
      throw err;
    }
    self = new RunMetrics(live, server, settings.lingerMs);
    return self;
  }

  get url(): string {
    return this.server.url;
  }

  /** The run's hooks that feed the live figures. */
  hooks(): Pick<RunHooks, 'onSnapshot' | 'onReports'> & { onStart(): void } {
    return {
      onStart: () => this.live.start(Date.now()),
      onSnapshot: (worker, snapshot) => this.live.add(worker, snapshot),
      onReports: (reports) => (this.reports = reports),
    };
  }

  private reports: readonly EngineReport[] = [];

  /** The run ended: serve its exact totals from now on. */
  finish(outcome: Aggregated): void {
    this.live.finish(outcome.result, outcome.histograms, this.reports);
  }

  /**
   * With --metrics-linger, wait until a scrape has read the final totals, at most that long; a signal ends the wait.
   * Returns at once without it, or when the final totals were already scraped.
   */
  async linger(signal: AbortSignal, say: (line: string) => void): Promise<void> {
    if (this.lingerMs <= 0 || this.finalScraped || signal.aborted) return;
    say(`mqbench: serving the final metrics at ${this.url} until scraped, at most ${this.lingerMs / 1000}s`);
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    await new Promise<void>((resolve) => {
      this.onFinalScrape = resolve;
      timer = setTimeout(resolve, this.lingerMs);
      onAbort = resolve;
      signal.addEventListener('abort', onAbort, { once: true });
    });
    clearTimeout(timer);
    if (onAbort) signal.removeEventListener('abort', onAbort);
    this.onFinalScrape = undefined;
  }

  close(): Promise<void> {
    return this.server.close();
  }

  private scraped(): void {
    if (!this.live.finished) return;
    this.finalScraped = true;
    this.onFinalScrape?.();
  }
}
