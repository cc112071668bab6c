/**
 * What delivery and flow control work with: the broker's options, counters, log, subscriptions and retained
 * messages, the sessions with parked messages, and the scratch of the fan-out in progress. The core provides it.
 */
import type { ClientIdentity } from '../auth/security.js';
import type { Log } from '../log.js';
import type { BrokerOptions } from '../options.js';
import type { Fanout } from './fanout.js';
import type { Msg } from './message.js';
import type { RetainStore } from './retain.js';
import type { Router } from './router.js';
import type { Session } from './session.js';
import type { BrokerStats } from './stats.js';

export interface Env {
  readonly options: BrokerOptions;
  readonly stats: BrokerStats;
  readonly log: Log;
  readonly router: Router;
  readonly retained: RetainStore;
  /** Sessions holding parked messages, watched for stalls. */
  readonly parking: Set<Session>;
  readonly fanout: Fanout;
  /** The broker's clock, ms (Date.now(), read once per socket read or timer). */
  readonly clock: number;
  /** check_retain_source: who published each retained message. */
  readonly retainSources: WeakMap<Msg, ClientIdentity>;
}
