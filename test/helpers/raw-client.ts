/**
 * The wire-level MQTT client the conformance suite uses (src/conformance/client.ts), plus what tests need around it:
 * unique names and the resources a test opened, released after each test.
 */
import { RawClient, connackCode, describePacket, type ConnectOptions, type Endpoint, type ProtocolVersion } from '../../src/conformance/client.js';

export * from '../../src/conformance/client.js';

let idCounter = 0;

/** A client id / topic segment unique within this process and among concurrently running test files. */
export function uniqueName(prefix: string): string {
  idCounter++;
  return `${prefix}-${process.pid}-${idCounter}`;
}


/**
 * What a test opened (sockets, brokers), so afterEach can release all of it whatever the test's outcome.
 */
export class TestResources {
  private readonly clients: RawClient[] = [];
  private readonly stoppables: Array<{ stop(): Promise<void> }> = [];

  async open(endpoint: Endpoint, protocolVersion: ProtocolVersion = 4): Promise<RawClient> {
    const c = await RawClient.open(endpoint, protocolVersion);
    this.clients.push(c);
    return c;
  }

  /** Opens a connection and sends CONNECT; fails unless the CONNACK accepts it. */
  async connect(endpoint: Endpoint, protocolVersion: ProtocolVersion, opts: ConnectOptions = {}): Promise<RawClient> {
    const c = await this.open(endpoint, protocolVersion);
    const connack = await c.connect(opts);
    if (connackCode(connack) !== 0) {
      throw new Error(`CONNECT of "${opts.clientId ?? ''}" refused: ${describePacket(connack)}`);
    }
    return c;
  }

  /** Stops `thing` (a broker) when the test ends. */
  add<T extends { stop(): Promise<void> }>(thing: T): T {
    this.stoppables.push(thing);
    return thing;
  }

  async releaseAll(): Promise<void> {
    for (const c of this.clients.splice(0)) c.destroy();
    await Promise.all(this.stoppables.splice(0).map((s) => s.stop()));
  }
}
