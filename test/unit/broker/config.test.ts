import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../broker/config.js';

describe('mosquitto.conf subset', () => {
  it('reads the supported options with Mosquitto names', () => {
    const { options, problems } = parseConfig(
      [
        '# comment',
        'listener 0 127.0.0.1',
        'allow_anonymous true',
        'max_connections 10',
        'max_inflight_messages 5',
        'max_queued_messages 7',
        'message_size_limit 1024',
        'max_keepalive 30',
        'sys_interval 0',
        'retain_available false',
        'log_type subscribe',
        'log_type error',
        'persistent_client_expiration 2d',
      ].join('\n'),
      'm.conf',
    );
    expect(problems).toEqual([]);
    expect(options).toMatchObject({
      // max_connections in a listener's block is that listener's, as in Mosquitto 2.0.
      listeners: [{ host: '127.0.0.1', port: 0, maxConnections: 10 }],
      allowAnonymous: true,
      maxInflightMessages: 5,
      maxQueuedMessages: 7,
      messageSizeLimit: 1024,
      maxKeepalive: 30,
      sysInterval: 0,
      retainAvailable: false,
      persistentClientExpiration: 172_800,
    });
    expect([...options.logTypes!].sort()).toEqual(['error', 'subscribe']);
  });

  it('reports every unsupported, unknown or invalid line with file:line, with a hint for typos', () => {
    const { problems } = parseConfig(
      ['plugin /usr/lib/auth.so', 'max_inflight_mesages 3', 'max_queued_messages lots', 'listener 99999'].join('\n'),
      'bad.conf',
    );
    expect(problems.map((p) => `${p.file}:${p.line}`)).toEqual(['bad.conf:1', 'bad.conf:2', 'bad.conf:3', 'bad.conf:4']);
    expect(problems[0].message).toMatch(/plugin.*does not support/);
    expect(problems[1].message).toMatch(/unknown option "max_inflight_mesages" \(did you mean "max_inflight_messages"\?\)/);
    expect(problems[2].message).toMatch(/max_queued_messages must be an integer/);
    expect(problems[3].message).toMatch(/listener port must be 0-65535/);
  });

  it('refuses anonymous clients when listeners are configured without allow_anonymous, as Mosquitto 2.0', () => {
    const { options, notices } = parseConfig('listener 1883', 'm.conf');
    expect(options.allowAnonymous).toBe(false);
    expect(notices[0]).toMatch(/allow_anonymous/);
    expect(parseConfig('max_connections 3', 'm.conf').options.allowAnonymous).toBeUndefined();
  });

  it('reads the persistence lines in any order, with Mosquitto\'s defaults for those left out', () => {
    const { options, problems } = parseConfig(
      ['persistence_location /var/lib/mqbench/', 'autosave_interval 60', 'persistence true', 'persistence_fsync write'].join('\n'),
      'p.conf',
    );
    expect(problems).toEqual([]);
    expect(options.persistence).toEqual({
      enabled: true,
      location: '/var/lib/mqbench/',
      file: 'mosquitto.db',
      autosaveInterval: 60,
      autosaveOnChanges: false,
      fsync: 'write',
    });
    const later = parseConfig(['persistence true', 'persistence false', 'persistence_file other.db', 'autosave_on_changes true'].join('\n'), 'p.conf');
    expect(later.problems).toEqual([]);
    expect(later.options.persistence).toMatchObject({ enabled: false, file: 'other.db', autosaveOnChanges: true, fsync: 'batch' });
    expect(parseConfig('max_connections 3', 'p.conf').options.persistence).toBeUndefined();
  });

  it('names each invalid persistence line with file:line', () => {
    const { problems } = parseConfig(
      ['persistence yes', 'autosave_interval -1', 'autosave_on_changes maybe', 'persistence_fsync always', 'persistence_file dir/', 'persistence_location', 'persistance true'].join('\n'),
      'p.conf',
    );
    expect(problems.map((p) => `${p.file}:${p.line}: ${p.message}`)).toEqual([
      'p.conf:1: persistence must be true or false, got "yes"',
      'p.conf:2: autosave_interval must be an integer from 0 to 2147483647, got "-1"',
      'p.conf:3: autosave_on_changes must be true or false, got "maybe"',
      'p.conf:4: persistence_fsync must be one of batch, write, never, got "always"',
      'p.conf:5: persistence_file is a file name, got the directory "dir/" (persistence_location names the directory)',
      'p.conf:6: persistence_location needs a value',
      'p.conf:7: unknown option "persistance" (did you mean "persistence"?)',
    ]);
  });
});
