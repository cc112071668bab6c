/**
 * mosquitto.conf lines about what clients are sent: `max_inflight_bytes` and `upgrade_outgoing_qos`.
 */
import { booleanSetter, parseInteger, type Setter } from './context.js';

export const DELIVERY_SETTERS: Record<string, Setter> = {
  max_inflight_bytes(value, ctx) {
    const n = parseInteger(value, 0, Number.MAX_SAFE_INTEGER);
    if (n === undefined) return `max_inflight_bytes must be an integer from 0 to ${Number.MAX_SAFE_INTEGER}, got "${value}"`;
    ctx.out.maxInflightBytes = n;
    return undefined;
  },
  upgrade_outgoing_qos: booleanSetter('upgrade_outgoing_qos', (b, ctx) => {
    ctx.out.upgradeOutgoingQos = b;
  }),
};
