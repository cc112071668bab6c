import { describe, expect, it } from 'vitest';
import { interpolate } from '../../../src/scenario/interpolate.js';
import { load, problems, yaml } from './load-helpers.js';

describe('interpolate', () => {
  const env = { HOST: 'broker.local', EMPTY: '', PORT: '1884' };

  it('replaces ${NAME} and ${NAME:-default}', () => {
    expect(interpolate('mqtt://${HOST}:${PORT}', env)).toEqual({ value: 'mqtt://broker.local:1884', changed: true, problems: [] });
    expect(interpolate('${MISSING:-fallback}', env).value).toBe('fallback');
    expect(interpolate('${HOST:-fallback}', env).value).toBe('broker.local');
  });

  it('uses the default for a variable that is set but empty, and "" without a default', () => {
    expect(interpolate('[${EMPTY:-x}]', env).value).toBe('[x]');
    expect(interpolate('[${EMPTY}]', env)).toEqual({ value: '[]', changed: true, problems: [] });
  });

  it('keeps text without references as it is, and $$ is a literal $', () => {
    expect(interpolate('no refs', env)).toEqual({ value: 'no refs', changed: false, problems: [] });
    expect(interpolate('cost: $5 and $$HOST', env).value).toBe('cost: $5 and $HOST');
    expect(interpolate('$${HOST}', env).value).toBe('${HOST}');
  });

  it('reports an unset variable at its offset, with a hint', () => {
    expect(interpolate('a ${NOPE} b', env)).toEqual({
      value: 'a  b',
      changed: true,
      problems: [{ offset: 2, message: 'environment variable NOPE is not set', hint: 'set it, or give a default: ${NOPE:-value}' }],
    });
  });

  it('reports bad names and unclosed references', () => {
    expect(interpolate('${1X}', env).problems[0]).toMatchObject({ offset: 0, message: '"${1X}" does not name an environment variable' });
    expect(interpolate('${HOST-x}', env).problems[0]).toMatchObject({ hint: 'for a default write ${HOST:-x}' });
    expect(interpolate('ab ${HOST', env).problems[0]).toMatchObject({ offset: 3, message: '"${" is not closed by "}"' });
  });
});

describe('interpolation in scenarios', () => {
  it('fills values after parsing; unquoted numbers and booleans keep their type', () => {
    const s = load(
      yaml(
        'broker: ${BROKER}',
        'groups:',
        '  - name: g',
        '    clients: ${CLIENTS:-3}',
        '    password: "${PASSWORD}"',
        '    steps:',
        '      - connect: { clean: "${CLEAN:-false}" }',
      ),
      { env: { BROKER: 'mqtt://10.0.0.5:1884', PASSWORD: '0123' } },
    );
    expect(s.broker.target).toMatchObject({ kind: 'remote', hosts: [{ host: '10.0.0.5', port: 1884 }] });
    expect(s.groups[0].clients).toBe(3);
    expect(s.groups[0].password).toBe('0123');
    expect(s.groups[0].steps[0]).toMatchObject({ kind: 'connect', clean: false });
  });

  it('reports every unset variable at the place of its ${', () => {
    const text = yaml(
      'broker:',
      '  url: mqtt://${HOST}:1883',
      '  username: ${USER_NAME}',
      '  password: "x-${PASS}"',
      'groups:',
      '  - name: g',
      '    steps: [connect]',
    );
    expect(problems(text, { env: { HOST: 'h' } })).toEqual([
      { file: '/scenarios/test.yaml', line: 3, col: 13, message: 'environment variable USER_NAME is not set', hint: 'set it, or give a default: ${USER_NAME:-value}' },
      { file: '/scenarios/test.yaml', line: 4, col: 16, message: 'environment variable PASS is not set', hint: 'set it, or give a default: ${PASS:-value}' },
    ]);
  });

  it('does not interpolate keys, only values', () => {
    const text = yaml('groups:', '  - name: g', '    ${KEY}: 1', '    steps: [connect]');
    expect(problems(text, { env: { KEY: 'clients' } }).map((p) => p.message)).toEqual(['unknown key "${KEY}" in a group']);
  });
});
