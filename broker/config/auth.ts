/**
 * mosquitto.conf lines about who may connect and what they may do: password_file, acl_file, allow_anonymous,
 * allow_zero_length_clientid, auto_id_prefix (per listener after `per_listener_settings true`, as in Mosquitto),
 * and the global clientid_prefixes and check_retain_source.
 */
import { booleanSetter, parseBoolean, securityTarget, type Setter } from './context.js';

function fileSetter(key: 'passwordFile' | 'aclFile', name: string): Setter {
  return (value, ctx) => {
    const target = securityTarget(ctx);
    if (target[key] !== undefined) return `duplicate ${name}${ctx.out.perListenerSettings ? " in this listener's block" : ''}`;
    target[key] = value;
    // Mosquitto: a per-listener password file before any listener line makes the default listener.
    if (key === 'passwordFile' && ctx.out.perListenerSettings && ctx.current === ctx.defaultListener) ctx.defaultListenerUsed = true;
    return undefined;
  };
}

export const AUTH_SETTERS: Record<string, Setter> = {
  password_file: fileSetter('passwordFile', 'password_file'),
  acl_file: fileSetter('aclFile', 'acl_file'),
  allow_anonymous: booleanSetter('allow_anonymous', (b, ctx) => {
    securityTarget(ctx).allowAnonymous = b;
    ctx.sawAllowAnonymous = true;
  }),
  allow_zero_length_clientid: booleanSetter('allow_zero_length_clientid', (b, ctx) => {
    securityTarget(ctx).allowZeroLengthClientid = b;
  }),
  auto_id_prefix(value, ctx) {
    if (value.length > 65_535 - 36) return 'auto_id_prefix is too long for a client id';
    if (/[+#]/.test(value)) return 'auto_id_prefix must not contain + or #';
    securityTarget(ctx).autoIdPrefix = value;
    return undefined;
  },
  per_listener_settings(value, ctx) {
    const b = parseBoolean(value);
    if (b === undefined) return `per_listener_settings must be true or false, got "${value}"`;
    // Security options already read went to the global settings: Mosquitto refuses this order too.
    if (b && ctx.securitySet) return 'per_listener_settings must be set before any other security settings';
    ctx.out.perListenerSettings = b;
    return undefined;
  },
  clientid_prefixes(value, ctx) {
    ctx.out.clientidPrefixes = value;
    return undefined;
  },
  check_retain_source: booleanSetter('check_retain_source', (b, ctx) => {
    ctx.out.checkRetainSource = b;
  }),
};
