/**
 * The scenarios `npm run bench:engine` runs through mqbench, as scenario YAML (so they go through the same loading
 * and validation as a user's file); the two that measure rates with the steady window they are measured over.
 */

export interface TimedScenario {
  yaml: string;
  /** Seconds [firstSecond, firstSecond + seconds) of the run's per-second series. */
  window: { firstSecond: number; seconds: number };
}

/**
 * Publishers start this long after the subscriber, so that its subscription is in place before the first message
 * (a stream that starts before its subscriber would not be judged for loss).
 */
const FAN_IN_PUBLISHERS_START_MS = 500;
/**
 * The run goes on this long past the window: the engine closes a second up to a second late (engine-window.ts), and
 * the window's last second must be closed while publishers still publish.
 */
const FAN_IN_TAIL_MS = 1500;
export const FAN_IN_PUBLISHERS = 4;
/**
 * Both loads publish on this one topic and subscribe to exactly it, so the broker does the same work per message
 * (a wildcard filter would cost it a longer walk of its subscription tree). mqbench's delivery accounting keeps the
 * publishers apart by the publisher id in each payload.
 */
export const FAN_IN_RAW_TOPIC = 'mqbench/fan-in/x';

export interface FanInShape {
  warmupSeconds: number;
  windowSeconds: number;
  /** Total payload size, mqbench's 24-byte latency header included. */
  payloadBytes: number;
}

/** QoS 0 fan-in: four unpaced publishers on one topic, one subscriber on that topic, as the raw generator does. */
export function fanInScenario(shape: FanInShape): TimedScenario {
  const firstSecond = Math.ceil(FAN_IN_PUBLISHERS_START_MS / 1000 + shape.warmupSeconds);
  const durationMs = (firstSecond + shape.windowSeconds) * 1000 + FAN_IN_TAIL_MS;
  const yaml = `name: bench-qos0-fan-in
description: ${FAN_IN_PUBLISHERS} unpaced QoS 0 publishers on one topic into one subscriber on that topic.
duration: ${durationMs}ms
drain: 2s
groups:
  - name: collector
    clientId: mqbench-engine-sub
    steps:
      - connect
      - subscribe: { topic: "${FAN_IN_RAW_TOPIC}", qos: 0 }
  - name: publishers
    clients: ${FAN_IN_PUBLISHERS}
    clientId: mqbench-engine-pub-{i}
    startTime: ${FAN_IN_PUBLISHERS_START_MS}ms
    steps:
      - connect
      - publish:
          topic: ${FAN_IN_RAW_TOPIC}
          qos: 0
          payload: { size: ${shape.payloadBytes} }
`;
  return { yaml, window: { firstSecond, seconds: shape.windowSeconds } };
}

/** One talker per this many clients. */
export const SCALE_CLIENTS_PER_TALKER = 100;
/** Messages per second from each talker. */
export const SCALE_TALKER_RATE = 10;
/** Talkers start this long after the listeners, so listener i has subscribed before talker i sends it anything. */
const SCALE_TALKERS_START_MS = 200;
export const SCALE_PAYLOAD_BYTES = 64;

export interface ScaleShape {
  clients: number;
  /** Every client has started within this many seconds (whole). */
  rampSeconds: number;
  /** Everybody stays connected this long after the ramp (whole seconds, at least 3). */
  holdSeconds: number;
}

export function scaleTalkers(clients: number): number {
  return Math.max(1, Math.round(clients / SCALE_CLIENTS_PER_TALKER));
}

/**
 * Many connections: listeners and talkers ramp up together, each client subscribes to a topic of its own, and each
 * talker publishes at a low rate at QoS 1 to the listener with its index, so a share of the connections carry traffic
 * both ways while all of them are open. The window is the hold, after the ramp.
 */
export function scaleScenario(shape: ScaleShape): TimedScenario {
  const talkers = scaleTalkers(shape.clients);
  const listeners = shape.clients - talkers;
  const rampMs = shape.rampSeconds * 1000;
  const durationMs = rampMs + shape.holdSeconds * 1000;
  // The hold's seconds, less the first one (the last connections may still be settling) and the last one (the engine
  // may close it only after the run has stopped).
  const firstSecond = shape.rampSeconds + 1;
  const seconds = Math.max(1, shape.holdSeconds - 2);
  const yaml = `name: bench-scale
description: ${shape.clients} clients, each subscribed to its own topic; ${talkers} of them publish ${SCALE_TALKER_RATE}/s at QoS 1.
duration: ${durationMs}ms
drain: 1s
groups:
  - name: listeners
    clients: ${listeners}
    rampUp: ${rampMs}ms
    steps:
      - connect: { timeout: 30s }
      - subscribe: { topic: "mqbench/scale/{client}", qos: 1 }
  - name: talkers
    clients: ${talkers}
    startTime: ${SCALE_TALKERS_START_MS}ms
    rampUp: ${Math.max(0, rampMs - SCALE_TALKERS_START_MS)}ms
    steps:
      - connect: { timeout: 30s }
      - subscribe: { topic: "mqbench/scale/{client}", qos: 1 }
      - publish:
          topic: mqbench/scale/listeners-{i}
          qos: 1
          payload: { size: ${SCALE_PAYLOAD_BYTES} }
          rate: ${SCALE_TALKER_RATE}/s
`;
  return { yaml, window: { firstSecond, seconds } };
}

export interface IdleShape {
  clients: number;
  /** Clients started per second. */
  connectRate: number;
  keepAliveSeconds: number;
  /** The run's longest life: it is stopped as soon as memory has been read. */
  durationMs: number;
}

/**
 * Idle clients: each connects with the given keep alive, subscribes to a topic of its own at QoS 1, and then does
 * nothing until the run is stopped. No $SYS reader, so the process holds exactly the scenario's clients.
 */
export function idleScenario(shape: IdleShape): string {
  return `name: bench-idle-clients
description: ${shape.clients} idle clients, each subscribed to its own topic at QoS 1.
duration: ${shape.durationMs}ms
drain: 0s
sysTopics: false
groups:
  - name: idle
    clients: ${shape.clients}
    clientId: mqbench-idle-{i}
    connectRate: ${shape.connectRate}/s
    steps:
      - connect: { keepalive: ${shape.keepAliveSeconds}s, timeout: 30s }
      - subscribe: { topic: "mqbench/idle/{client}", qos: 1 }
`;
}
