/**
 * Node's floor per idle connection: on the main thread, raw sockets that each send one pre-encoded CONNECT and
 * SUBSCRIBE, count the replies read into one shared buffer, and then only hold the connection, answering nothing.
 * Memory is read the way mqbench's idle process reads its own (idle-child.ts runs either in a process of its own).
 */
import { connect as netConnect, type Socket } from 'node:net';
import { ensureOpenFiles } from './engine-fd-limit.js';
import type { IdleJob, IdleReading } from './idle-memory.js';
import { collectedHeap, selfRssBytes, sleep } from './idle-self.js';
import { encodeConnect, encodeSubscribe } from './mqtt-wire.js';

/** CONNACK (4 bytes) and SUBACK of one filter (5 bytes): all an MQTT 3.1.1 broker sends an idle subscriber. */
const REPLY_BYTES_PER_CLIENT = 9;
const READ_BUFFER_BYTES = 64 * 1024;
/** How often the connect pacing and the wait for replies look again. */
const TICK_MS = 5;

/**
 * The floor's sockets. Listeners are shared by all of them (bound once here), so a connection costs Node's socket
 * and nothing of ours; replies are only counted.
 */
class FloorClients {
  readonly sockets: Socket[] = [];
  replyBytes = 0;
  /** Why the first connection closed before the end, if one did. */
  lost: string | undefined;
  private releasing = false;
  private readonly readBuffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);
  private readonly onRead = (n: number): boolean => {
    this.replyBytes += n;
    return true;
  };
  private readonly onError = (err: Error): void => {
    if (!this.releasing) this.lost ??= `socket error: ${err.message}`;
  };
  private readonly onClose = (): void => {
    if (!this.releasing) this.lost ??= 'closed by the broker';
  };

  constructor(private readonly job: IdleJob) {}

  open(i: number): void {
    const { job } = this;
    const socket = netConnect({ host: job.host, port: job.port, noDelay: true, onread: { buffer: this.readBuffer, callback: this.onRead } });
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
    socket.write(Buffer.concat([encodeConnect(`mqbench-floor-${i}`, job.keepAliveSeconds), encodeSubscribe(1, `mqbench/idle/floor-${i}`, 1)]));
    this.sockets.push(socket);
  }

  /** Resets every connection: no DISCONNECT, no TIME_WAIT left holding ports for the next measurement. */
  release(): void {
    this.releasing = true;
    for (const s of this.sockets) if (!s.destroyed) s.resetAndDestroy();
  }
}

export async function runIdleFloor(job: IdleJob): Promise<IdleReading> {
  const files = ensureOpenFiles(process.pid, job.openFilesNeeded, 'the floor process');
  if (files.problem !== undefined) throw new Error(files.problem);
  const clients = new FloorClients(job);
  const expected = job.clients * REPLY_BYTES_PER_CLIENT;
  const started = performance.now();
  const deadline = started + job.connectDeadlineMs;
  try {
    // Client i starts at i / connectRate seconds, as mqbench's connectRate spaces them.
    while (clients.sockets.length < job.clients && clients.lost === undefined) {
      const due = Math.min(job.clients, Math.floor(((performance.now() - started) / 1000) * job.connectRate) + 1);
      while (clients.sockets.length < due) clients.open(clients.sockets.length);
      if (clients.sockets.length < job.clients) await sleep(TICK_MS);
    }
    while (clients.replyBytes < expected && clients.lost === undefined && performance.now() < deadline) await sleep(TICK_MS);
    if (clients.lost !== undefined) throw new Error(`a floor connection was lost: ${clients.lost}`);
    if (clients.replyBytes < expected) {
      throw new Error(
        `the broker sent ${clients.replyBytes} of the ${expected} bytes of CONNACK and SUBACK expected within ` +
          `${job.connectDeadlineMs / 1000} s`,
      );
    }
    await sleep(job.settleMs);
    if (clients.lost !== undefined) throw new Error(`a floor connection was lost while idle: ${clients.lost}`);
    if (clients.replyBytes !== expected) {
      throw new Error(`the broker sent ${clients.replyBytes - expected} bytes beyond CONNACK and SUBACK to idle clients`);
    }
    const heap = collectedHeap();
    return {
      tool: 'floor',
      clients: job.clients,
      rssBytes: selfRssBytes(),
      youngGenerationBytes: heap.youngGenerationBytes,
      heapUsedBytes: heap.usedBytes,
      threadHeapBytes: [heap.usedBytes],
    };
  } finally {
    clients.release();
  }
}
