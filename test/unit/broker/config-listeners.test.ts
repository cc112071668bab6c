/**
 * mosquitto.conf lines for listeners, security and logging, read as Mosquitto 2.0 reads them: listener blocks and
 * the default listener, per_listener_settings, include_dir, log_dest and the rest — and every line the broker
 * cannot honour refused with file:line.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../../broker/config.js';
import { formatTime, timestamper } from '../../../broker/log-time.js';

const tmp = mkdtempSync(join(tmpdir(), 'mqbench-conf-unit-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

function ok(lines: string[]) {
  const parsed = parseConfig(lines.join('\n'), 'm.conf');
  expect(parsed.problems).toEqual([]);
  return parsed;
}

function problems(lines: string[]): string[] {
  return parseConfig(lines.join('\n'), 'm.conf').problems.map((p) => `${p.file}:${p.line}: ${p.message}`);
}

describe('listener blocks', () => {
  it('gives each block its protocol, socket domain, max_connections and TLS settings', () => {
    const { options } = ok([
      'listener 1883',
      'max_connections 10',
      'listener 8883 127.0.0.1',
      'certfile /c.pem',
      'keyfile /k.pem',
      'cafile /ca.pem',
      'require_certificate true',
      'use_identity_as_username true',
      'tls_version tlsv1.3',
      'ciphers ECDHE-RSA-AES128-GCM-SHA256',
      'listener 8080',
      'protocol websockets',
      'socket_domain ipv6',
      'allow_anonymous true',
    ]);
    expect(options.listeners).toEqual([
      { host: '', port: 1883, maxConnections: 10 },
      {
        host: '127.0.0.1',
        port: 8883,
        tls: {
          certfile: '/c.pem',
          keyfile: '/k.pem',
          cafile: '/ca.pem',
          requireCertificate: true,
          useIdentityAsUsername: true,
          tlsVersion: 'tlsv1.3',
          ciphers: 'ECDHE-RSA-AES128-GCM-SHA256',
        },
      },
      { host: '', port: 8080, protocol: 'websockets', socketDomain: 'ipv6' },
    ]);
    expect(options.maxConnections).toBeUndefined();
  });

  it('makes the default listener (port 1883 unless set) from listener options given before any listener line', () => {
    const { options } = ok(['certfile /c.pem', 'keyfile /k.pem', 'listener 9000', 'allow_anonymous true']);
    expect(options.listeners).toEqual([
      { host: '', port: 1883, tls: { certfile: '/c.pem', keyfile: '/k.pem', requireCertificate: false, useIdentityAsUsername: false } },
      { host: '', port: 9000 },
    ]);
    expect(ok(['port 1884', 'bind_address 127.0.0.1', 'allow_anonymous true']).options.listeners).toEqual([{ host: '127.0.0.1', port: 1884 }]);
    // max_connections before any listener line holds for the broker, and makes no listener.
    const top = ok(['max_connections 7']);
    expect(top.options.maxConnections).toBe(7);
    expect(top.options.listeners).toBeUndefined();
  });

  it('refuses TLS blocks it could not serve, naming the line', () => {
    expect(problems(['listener 8883', 'certfile /c.pem', 'allow_anonymous true'])).toEqual(['m.conf:1: a TLS listener needs both certfile and keyfile']);
    expect(problems(['keyfile /k.pem', 'certfile /c.pem', 'use_identity_as_username true'])[0]).toMatch(/^m\.conf:1: .*need cafile or capath/);
    expect(problems(['listener 1', 'certfile /a', 'certfile /b', 'keyfile /k'])).toEqual(["m.conf:3: duplicate certfile in this listener's block"]);
    expect(problems(['listener 1', 'tls_version tlsv1.0'])[0]).toMatch(/tls_version must be tlsv1.3, tlsv1.2 or tlsv1.1/);
    expect(problems(['listener 1', 'protocol mqttsn'])[0]).toMatch(/protocol must be mqtt or websockets/);
    expect(problems(['listener 1', 'socket_domain ipx'])[0]).toMatch(/socket_domain must be ipv4 or ipv6/);
    expect(problems(['listener 1 a b'])[0]).toMatch(/listener expects/);
  });
});

describe('security settings', () => {
  it('are global without per_listener_settings', () => {
    const { options } = ok([
      'password_file /pw',
      'acl_file /acl',
      'allow_anonymous false',
      'allow_zero_length_clientid false',
      'auto_id_prefix id-',
      'clientid_prefixes dev-',
      'check_retain_source true',
      'listener 1883',
    ]);
    expect(options).toMatchObject({
      passwordFile: '/pw',
      aclFile: '/acl',
      allowAnonymous: false,
      allowZeroLengthClientid: false,
      autoIdPrefix: 'id-',
      clientidPrefixes: 'dev-',
      checkRetainSource: true,
    });
  });

  it("are each listener's own with per_listener_settings, which must come first", () => {
    const { options } = ok(['per_listener_settings true', 'listener 1', 'allow_anonymous true', 'listener 2', 'password_file /pw', 'acl_file /acl']);
    expect(options.listeners).toEqual([
      { host: '', port: 1, security: { allowAnonymous: true } },
      // No allow_anonymous for this listener: false, as Mosquitto 2.0 decides.
      { host: '', port: 2, security: { passwordFile: '/pw', aclFile: '/acl', allowAnonymous: false } },
    ]);
    expect(problems(['allow_anonymous true', 'per_listener_settings true'])).toEqual(['m.conf:2: per_listener_settings must be set before any other security settings']);
    expect(problems(['listener 1', 'password_file /a', 'password_file /b'])).toEqual(['m.conf:3: duplicate password_file']);
  });
});

describe('include_dir', () => {
  it('reads the .conf files of the directory in byte order, naming their own lines in problems', () => {
    const inc = join(tmp, 'conf.d');
    mkdirSync(inc, { recursive: true });
    writeFileSync(join(inc, 'b.conf'), 'max_inflight_messages 7\nbogus_b 1\n');
    writeFileSync(join(inc, 'A.conf'), 'max_inflight_messages 3\n');
    writeFileSync(join(inc, 'notes.txt'), 'not read\n');
    writeFileSync(join(inc, 'c.conf'), `include_dir ${inc}\n`);
    const parsed = parseConfig(`max_queued_messages 5\ninclude_dir ${inc}`, 'main.conf');
    expect(parsed.options.maxInflightMessages).toBe(7);
    expect(parsed.options.maxQueuedMessages).toBe(5);
    expect(parsed.problems.map((p) => `${p.file.slice(tmp.length)}:${p.line}`)).toEqual(['/conf.d/b.conf:2', '/conf.d/c.conf:1']);
    expect(parsed.problems[1].message).toMatch(/only read from the main config file/);
    expect(parsed.notices.filter((n) => n.startsWith('Loading config file')).map((n) => n.slice(n.lastIndexOf('/') + 1))).toEqual(['A.conf', 'b.conf', 'c.conf']);
    expect(problems([`include_dir ${join(tmp, 'missing')}`])[0]).toMatch(/cannot read include_dir .*missing: no such file or directory/);
  });
});

describe('logging lines', () => {
  it('log_dest: file, several destinations, none; others refused', () => {
    expect(ok(['log_dest file /var/log/m.log', 'log_dest stdout']).options.logFile).toBe('/var/log/m.log');
    expect(ok(['log_dest file /x', 'log_dest none']).options.logFile).toBeUndefined();
    expect(problems(['log_dest file /a', 'log_dest file /b'])).toEqual(['m.conf:2: duplicate "log_dest file"']);
    expect(problems(['log_dest syslog'])[0]).toMatch(/log_dest "syslog" is not supported/);
    expect(problems(['log_dest file'])[0]).toMatch(/log_dest file needs a path/);
  });

  it('log_timestamp_format takes strftime conversions, in local time; unknown ones are refused', () => {
    expect(ok(['log_timestamp_format %Y-%m-%dT%H:%M:%S']).options.logTimestampFormat).toBe('%Y-%m-%dT%H:%M:%S');
    expect(problems(['log_timestamp_format %Q'])[0]).toMatch(/%Q is not supported/);
    const d = new Date(2026, 0, 5, 7, 8, 9);
    expect(formatTime('%Y-%m-%d %H:%M:%S %j %a %b %e %I%p %% %F %T', d)).toBe('2026-01-05 07:08:09 005 Mon Jan  5 07AM % 2026-01-05 07:08:09');
    expect(timestamper(undefined)()).toMatch(/^\d{10}$/);
  });

  it('connection_messages, max_inflight_bytes, upgrade_outgoing_qos', () => {
    expect(ok(['connection_messages false', 'max_inflight_bytes 4096', 'upgrade_outgoing_qos true']).options).toMatchObject({
      connectionMessages: false,
      maxInflightBytes: 4096,
      upgradeOutgoingQos: true,
    });
  });
});

describe('what stays refused', () => {
  it('names bridges, plugins, PSK and the rest with file:line', () => {
    const lines = ['connection bridge-1', 'address 10.0.0.1:1883', 'plugin /usr/lib/x.so', 'bridge_cafile /ca.crt', 'psk_file /p', 'use_subject_as_username true', 'http_dir /www'];
    const found = problems(lines);
    expect(found).toHaveLength(lines.length);
    found.forEach((p, i) => expect(p).toMatch(new RegExp(`^m\\.conf:${i + 1}: option ".*" is a Mosquitto option the mqbench broker does not support`)));
  });
});
