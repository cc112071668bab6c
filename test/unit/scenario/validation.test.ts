import { tmpdir } from 'node:os';
import { describe, expect, it } from 'vitest';
import { formatProblems, ScenarioError } from '../../../src/scenario/errors.js';
import { loadScenarioFile } from '../../../src/scenario/load.js';
import { FILE, load, problems, where, yaml } from './load-helpers.js';

/** A scenario with one group whose steps are the given lines (each indented for the steps list). */
function steps(...lines: string[]): string {
  return yaml('groups:', '  - name: g', '    steps:', ...lines.map((l) => '      ' + l));
}

describe('validation reports each mistake at its line and column', () => {
  it('an unknown key, with "did you mean"', () => {
    const text = yaml('name: x', 'grups:', '  - name: g');
    expect(problems(text)).toEqual([
      {
        file: FILE,
        line: 1,
        col: 1,
        message: 'the scenario needs groups: a list of client groups',
        hint: 'e.g. groups: [{ name: pub, clients: 1, steps: [connect, { publish: { topic: t, count: 10 } }] }]',
      },
      { file: FILE, line: 2, col: 1, message: 'unknown key "grups" at the top of the scenario', hint: 'did you mean "groups"?' },
    ]);
  });

  it('unknown keys in every section, with suggestions from spelling and from other tools’ names', () => {
    const text = yaml(
      'groups:',
      '  - name: g',
      '    client_id: x',
      '    steps:',
      '      - connect: { cleanSession: false, keepAlive: 10s }',
      '      - publish: { topic: t, count: 1, qoss: 1 }',
      '      - subscribe: { topic: t, retain_handling: 1 }',
      '      - disconnect: { flurb: 1 }',
    );
    expect(problems(text).map((p) => `${p.line}:${p.col} ${p.message} / ${p.hint}`)).toEqual([
      '3:5 unknown key "client_id" in a group / did you mean "clientId"?',
      '5:20 unknown key "cleanSession" in connect / did you mean "clean"?',
      '5:41 unknown key "keepAlive" in connect / did you mean "keepalive"?',
      '6:40 unknown key "qoss" in publish / did you mean "qos"?',
      '7:32 unknown key "retain_handling" in subscribe / did you mean "retainHandling"?',
      '8:23 unknown key "flurb" in disconnect / known keys: abrupt, reasonCode',
    ]);
  });

  it('sysTopics: true or false, a misspelling suggested, anything else refused at its place', () => {
    const group = ['groups:', '  - name: g', '    steps:', '      - connect'];
    expect(load(yaml('sysTopics: false', ...group)).sysTopics).toBe(false);
    expect(load(yaml('sysTopics: "true"', ...group)).sysTopics).toBe(true);
    expect(problems(yaml('sysTopics: off', ...group))).toEqual([
      { file: FILE, line: 1, col: 12, message: 'sysTopics must be true or false, got "off"', hint: 'write false' },
    ]);
    expect(where(yaml('sys_topics: false', ...group))).toEqual(['1:1 unknown key "sys_topics" at the top of the scenario']);
    expect(problems(yaml('sys: false', ...group))[0].hint).toBe('did you mean "sysTopics"?');
  });

  it('QoS 3', () => {
    expect(where(steps('- connect', '- publish: { topic: t, qos: 3, count: 1 }'))).toEqual(['5:35 qos must be 0, 1 or 2, got the number 3']);
  });

  it('a negative rate', () => {
    expect(problems(steps('- connect', '- publish: { topic: t, rate: -5/s, count: 1 }'))).toEqual([
      { file: FILE, line: 5, col: 36, message: 'rate: a rate cannot be negative, got "-5/s"' },
    ]);
  });

  it('a wildcard in a publish topic, also one that arrives through {client}', () => {
    expect(problems(steps('- connect', '- publish: { topic: "a/+/b", count: 1 }'))).toEqual([
      {
        file: FILE,
        line: 5,
        col: 27,
        message: `publish topic "a/+/b" contains a wildcard ('+' or '#'), which a topic name may not`,
        hint: 'wildcards belong in subscriptions; a published topic names one topic [MQTT-3.3.2-2]',
      },
    ]);
    const viaClient = yaml('groups:', '  - name: g', '    clientId: "dev#{i}"', '    steps: [connect, { publish: { topic: "x/{client}", count: 1 } }]');
    expect(where(viaClient)).toEqual([`4:42 publish topic "x/{client}" (for the first client "x/dev#0") contains a wildcard ('+' or '#'), which a topic name may not`]);
  });

  it('a malformed subscription filter', () => {
    expect(where(steps('- connect', '- subscribe: a/b+', '- subscribe: [ok/#, "#/x"]'))).toEqual([
      `5:20 subscription "a/b+" has a '+' that does not fill a whole level`,
      `6:27 subscription "#/x" has a '#' that is not the whole last level`,
    ]);
  });

  it('missing required fields', () => {
    const text = yaml(
      'groups:',
      '  - clients: 2',
      '    steps:',
      '      - connect',
      '      - publish: { qos: 1, count: 1 }',
      '      - subscribe: { qos: 1 }',
      '      - repeat: { times: 2 }',
      '  - name: nosteps',
    );
    expect(where(text)).toEqual([
      '2:5 a group needs a name',
      '5:18 publish needs topic',
      '6:20 subscribe needs topic or topics',
      '7:17 repeat needs steps',
      '8:5 group nosteps needs steps',
    ]);
  });

  it('wrong types', () => {
    const text = yaml(
      'workers: many',
      'thresholds: errors == 0',
      'groups:',
      '  - name: g',
      '    clients: ten',
      '    steps:',
      '      - connect: { clean: yes, attempts: 1.5 }',
      '      - publish: { topic: [a], retain: 1, count: 1 }',
    );
    expect(problems(text).map((p) => `${p.line}:${p.col} ${p.message}${p.hint ? ' / ' + p.hint : ''}`)).toEqual([
      '1:10 workers must be a whole number, got "many" / a number of worker threads, or auto',
      '2:13 thresholds must be a list, got "errors == 0" / start each item on its own line with "- "',
      '5:14 clients must be a whole number, got "ten"',
      '7:27 clean must be true or false, got "yes" / write true',
      '7:42 attempts must be a whole number, got the number 1.5',
      '8:27 publish topic must be text, got a list',
      '8:40 retain must be true or false, got the number 1 / write true or false',
    ]);
  });

  it('an unknown template variable, at the column of its {', () => {
    expect(problems(steps('- connect', '- publish: { topic: "dev/{clinet}/temp", count: 1 }'))).toEqual([
      {
        file: FILE,
        line: 5,
        col: 32,
        message: 'publish topic: unknown template variable {clinet}',
        hint: 'did you mean {client}? variables here: {client}, {group}, {i}, {seq}, {rand:N}',
      },
    ]);
    const block = yaml('groups:', '  - name: g', '    clientId: dev-{n}-{seq}', '    steps: [connect]');
    expect(where(block)).toEqual(['3:19 clientId: unknown template variable {n}', '3:23 clientId: {seq} cannot be used in a client id ({seq} numbers published messages)']);
  });

  it('a payload file that does not exist', () => {
    const [p] = problems(steps('- connect', '- publish: { topic: t, count: 1, payload: { file: nope.bin } }'));
    expect(p).toEqual({
      file: FILE,
      line: 5,
      col: 57,
      message: 'payload file "nope.bin" does not exist (looked for /scenarios/nope.bin)',
      hint: 'file names are relative to the scenario file',
    });
  });

  it('a payload that is not one thing, bad hex, and a folder given as a file', () => {
    const text = steps(
      '- connect',
      '- publish: { topic: t, count: 1, payload: {} }',
      '- publish: { topic: t, count: 1, payload: { hex: "abc" } }',
      '- publish: { topic: t, count: 1, payload: { file: "." } }',
    );
    expect(where(text, { baseDir: tmpdir() })).toEqual([
      '5:49 payload needs one of text, hex, size or file',
      '6:56 payload hex must be pairs of hex digits, got "abc"',
      `7:57 payload file "." is not a regular file (${tmpdir()})`,
    ]);
  });

  it('values out of range', () => {
    const text = yaml(
      'broker: { protocol: 5 }',
      'groups:',
      '  - name: g',
      '    randomSuffix: 100',
      '    steps:',
      '      - connect: { keepalive: 1500ms, attempts: 0, reconnects: -1, timeout: 0s }',
      '      - connect: { keepalive: 20h, sessionExpiry: 200000d }',
      '      - subscribe: { topic: a, retainHandling: 3, subscriptionId: 0, sampleEvery: 50 }',
    );
    expect(problems(text).map((p) => `${p.line}:${p.col} ${p.message}${p.hint ? ' / ' + p.hint : ''}`)).toEqual([
      '4:19 randomSuffix must be from 0 to 64, got 100 / true, false, or the number of random characters',
      '6:31 keepalive is sent in whole seconds, got 1500ms',
      '6:49 attempts must be from 1 to 1000000, got 0',
      '6:64 reconnects must be from 0 to 1000000, got -1 / a count, or unlimited',
      '6:77 timeout must be longer than 0',
      '7:9 connect while already connected / add a disconnect step before it',
      '7:31 keepalive can be at most 65535s',
      '7:51 sessionExpiry: "200000d" has an unknown duration unit "d" / write hours instead, e.g. 24h',
      '8:48 retainHandling must be from 0 to 2, got 3 / 0: send retained messages on subscribe, 1: only for a new subscription, 2: never',
      '8:67 subscriptionId must be from 1 to 268435455, got 0',
      '8:83 sampleEvery must be a time like 1s or a count like 100 messages, got the number 50 / write 50 messages, or a time such as 50ms',
    ]);
  });

  it('a duration that does not parse', () => {
    expect(problems(yaml('duration: 10 seconds', 'groups: [{ name: g, steps: [connect, { wait: 90 }] }]'))).toEqual([
      { file: FILE, line: 1, col: 11, message: 'duration: "10 seconds" is not a duration', hint: 'write e.g. 500ms, 10s, 2m, 1h or 1m30s' },
      { file: FILE, line: 2, col: 46, message: 'wait: a duration needs a unit, got the bare number 90', hint: 'write 90s or 90ms (units: ms, s, m, h)' },
    ]);
  });

  it('steps out of order: disconnect before connect, and the like', () => {
    expect(where(steps('- disconnect', '- publish: { topic: t, count: 1 }', '- connect', '- connect', '- unsubscribe'))).toEqual([
      '4:9 disconnect before connect',
      '5:9 publish before connect',
      '7:9 connect while already connected',
      '8:9 unsubscribe with no topics, and nothing is subscribed before it',
    ]);
  });

  it('a repeat that ends in another state than it started in', () => {
    const text = steps('- repeat:', '    times: 3', '    steps:', '      - connect', '      - publish: { topic: t, count: 1 }');
    expect(where(text)).toEqual(['7:15 connect while already connected (on the second time round the repeat at line 4)']);
    const disconnectInside = steps('- connect', '- repeat:', '    times: 2', '    steps: [disconnect]');
    expect(where(disconnectInside)).toEqual(['7:19 disconnect before connect (on the second time round the repeat at line 5)']);
  });

  it('a subscription that only exists after the session ended', () => {
    const text = steps('- connect', '- subscribe: a/#', '- disconnect', '- connect', '- unsubscribe');
    expect(where(text)).toEqual(['8:9 unsubscribe with no topics, and nothing is subscribed before it']);
    // With clean: false the broker keeps the subscription, so there is something to unsubscribe from.
    const persistent = steps('- connect: { clean: false }', '- subscribe: a/#', '- disconnect', '- connect: { clean: false }', '- unsubscribe');
    expect(() => where(persistent)).toThrow('expected problems');
  });

  it('no follow-on problem from a step that could not be read', () => {
    // The bad filter is the only problem: the bare unsubscribe after it is not reported as having nothing to do.
    expect(where(steps('- connect', '- subscribe: "a/#/b"', '- unsubscribe'))).toEqual([`5:20 subscription "a/#/b" has a '#' that is not the whole last level`]);
  });

  it('a bad threshold, at its position', () => {
    const text = yaml('thresholds:', '  - e2e.p99 < 20ms', '  - e2e.p99 < 20', '  - losst == 0', 'groups: [{ name: g, steps: [connect] }]');
    expect(problems(text)).toEqual([
      { file: FILE, line: 3, col: 5, message: 'threshold "e2e.p99 < 20": e2e.p99 needs a time unit, got "20"', hint: 'a latency takes us, ms or s, e.g. e2e.p99 < 20ms' },
      { file: FILE, line: 4, col: 5, message: 'threshold "losst == 0": unknown metric "losst"', hint: 'did you mean "lost"?' },
    ]);
  });

  it('a threshold on a group the scenario does not have', () => {
    expect(where(yaml('thresholds: ["group(pubs).errors == 0"]', 'groups: [{ name: pub, steps: [connect] }]'))).toEqual([
      '1:14 threshold "group(pubs).errors == 0" names group "pubs", which this scenario does not have',
    ]);
  });

  it('YAML syntax errors, one per line, with a position', () => {
    expect(problems(yaml('groups:', '  - name: g', '    steps: [connect', '  - name: h'))).toEqual([
      {
        file: FILE,
        line: 4,
        col: 3,
        message: 'YAML: flow sequence in block collection must be sufficiently indented and end with a ]',
        hint: 'check the indentation and brackets of this line and the one before',
      },
    ]);
    expect(where(yaml('a: 1', 'a: 2'))).toEqual(['2:1 YAML: map keys must be unique']);
    expect(where(yaml('name: x', '\tgroups: []'))[0]).toMatch(/^2:1 YAML: /);
  });

  it('a template or ${VAR} inside a flow mapping without quotes, with the fix as hint', () => {
    const [t] = problems(steps('- connect', '- publish: { topic: a/{i}, count: 1 }'));
    expect(t.hint).toBe('inside { … } or [ … ] a template needs quotes, e.g. "a/{i}"; without them YAML reads {i} as a mapping');
    const [e] = problems(steps('- connect: { clean: ${CLEAN} }'));
    expect(e.hint).toBe('inside { … } or [ … ] a ${VAR} reference needs quotes, e.g. "${VAR}"; without them YAML reads its braces');
  });

  it('options that need MQTT 5 in a 3.1.1 group', () => {
    const text = steps(
      '- connect: { sessionExpiry: 1h }',
      '- subscribe: { topic: a, noLocal: true, retainAsPublished: true, retainHandling: 2, subscriptionId: 3 }',
      '- disconnect: { reasonCode: 4 }',
    );
    const hint = 'set protocol: 5 in the broker section or in the group';
    expect(problems(text).map((p) => `${p.line}:${p.col} ${p.message} / ${p.hint}`)).toEqual([
      `4:35 sessionExpiry needs MQTT 5; this group uses MQTT 3.1.1 / ${hint}`,
      `5:41 noLocal needs MQTT 5; this group uses MQTT 3.1.1 / ${hint}`,
      `5:66 retainAsPublished needs MQTT 5; this group uses MQTT 3.1.1 / ${hint}`,
      `5:88 retainHandling needs MQTT 5; this group uses MQTT 3.1.1 / ${hint}`,
      `5:107 subscriptionId needs MQTT 5; this group uses MQTT 3.1.1 / ${hint}`,
      `6:35 reasonCode needs MQTT 5; this group uses MQTT 3.1.1 / ${hint}`,
    ]);
  });

  it('MQTT 5 rules: no noLocal on a shared subscription, only client reason codes', () => {
    const text = yaml(
      'broker: { protocol: 5 }',
      'groups:',
      '  - name: g',
      '    steps:',
      '      - connect',
      '      - subscribe: { topic: "$share/grp/a", noLocal: true }',
      '      - disconnect: { reasonCode: 0x8e }',
    );
    expect(where(text)).toEqual([
      '6:29 noLocal cannot be set on a shared subscription [MQTT-3.8.3-4]',
      '7:35 reasonCode 0x8e is not one a client may send in DISCONNECT',
    ]);
  });

  it('conflicting keys', () => {
    const text = yaml(
      'groups:',
      '  - name: g',
      '    clients: 10',
      '    connectRate: 10/s',
      '    rampUp: 2s',
      '    steps:',
      '      - connect: { backoff: 2s, maxBackoff: 1s }',
      '      - publish: { topic: t, rate: 1/s, totalRate: 10/s, count: 1, payload: { text: a, hex: "00" } }',
      '      - subscribe: { topic: a, topics: [b] }',
    );
    expect(where(text)).toEqual([
      '5:5 a group has either connectRate or rampUp, not both',
      '7:45 maxBackoff (1000ms) is shorter than backoff (2000ms)',
      '8:41 publish has both rate and totalRate',
      '8:88 payload has both text and hex',
      '9:32 subscribe has both topic and topics',
    ]);
  });

  it('a timestamped payload smaller than the timestamp header', () => {
    expect(problems(steps('- connect', '- publish: { topic: t, count: 1, payload: { size: 16 } }'))).toEqual([
      {
        file: FILE,
        line: 5,
        col: 57,
        message: 'payload size 16 is smaller than the 24-byte timestamp header',
        hint: 'use at least 24 bytes, or set timestamp: false (no end-to-end latency or loss accounting then)',
      },
    ]);
    expect(() => problems(steps('- connect', '- publish: { topic: t, count: 1, timestamp: false, payload: { size: 16 } }'))).toThrow('expected problems');
  });

  it('a run that would never end, and a step that would never run', () => {
    const text = steps('- connect', '- publish: { topic: t }', '- disconnect', '- repeat: { steps: [wait: 1s] }');
    expect(problems(text).map((p) => `${p.line}:${p.col} ${p.message} / ${p.hint}`)).toEqual([
      '5:9 publish has no count or duration and the scenario has no duration, so the run would never end / add count: or duration: here, or duration: at the top of the scenario',
      '6:9 disconnect never runs: the publish at line 5 runs until the end of the run / give that publish a count or a duration',
    ]);
    // With a run duration, an endless publish is fine as the last step.
    expect(() => problems(yaml('duration: 5s', steps('- connect', '- publish: { topic: t }')))).toThrow('expected problems');
  });

  it('groups that start after the run ends', () => {
    const text = yaml(
      'duration: 2s',
      'groups:',
      '  - name: late',
      '    startTime: 3s',
      '    steps: [connect]',
      '  - name: slow',
      '    clients: 100',
      '    connectRate: 10/s',
      '    steps: [connect]',
    );
    expect(where(text)).toEqual(['4:16 group late starts at 3s, but the run lasts 2s', '8:18 the last client of group slow would start at 9900ms, but the run lasts 2s']);
  });

  it('duplicate group names and clashing client ids', () => {
    const text = yaml(
      'groups:',
      '  - name: a',
      '    clients: 3',
      '    clientId: same',
      '    steps: [connect]',
      '  - name: a',
      '    steps: [connect]',
      '  - name: b',
      '    clientId: "a-{i}"',
      '    steps: [connect]',
    );
    expect(problems(text).map((p) => `${p.line}:${p.col} ${p.message} / ${p.hint}`)).toEqual([
      `4:15 all 3 clients of group "a" would use the client id "same", and each would take over the others' session / add {i} to the clientId (e.g. "same-{i}"), set randomSuffix: true, or set allowDuplicateClientIds: true if the takeover is what you test`,
      '6:11 there are two groups named "a" (the other at line 2) / group names are unique',
      `9:15 client 0 of group "b" and client 0 of group "a" would both use the client id "a-0" / give the groups different client ids (the default "{group}-{i}" is unique), or set allowDuplicateClientIds: true in both groups`,
    ]);
  });

  it('client id rules of MQTT 3.1 and 3.1.1', () => {
    const text = yaml(
      'groups:',
      '  - name: old',
      '    protocol: 3.1',
      '    clientId: ""',
      '    steps: [connect]',
      '  - name: anon',
      '    clientId: ""',
      '    steps: [{ connect: { clean: false } }]',
    );
    expect(where(text)).toEqual([
      '4:15 MQTT 3.1 needs a client id; an empty one cannot be sent',
      '8:15 an empty client id needs clean: true in MQTT 3.1.1 [MQTT-3.1.3-7]',
    ]);
  });

  it('a step written with its options at the wrong indentation, and unknown steps', () => {
    const text = steps('- connect', '- publish:', '  topic: a/b', '  count: 1', '- publsh: { topic: a }', '- 42');
    expect(problems(text).map((p) => `${p.line}:${p.col} ${p.message} / ${p.hint}`)).toEqual([
      `5:9 publish needs options / e.g. - publish: { topic: sensors/{client}, qos: 1, rate: 10/s, count: 100 }`,
      `6:9 a step has exactly one key, the step kind; this one also has "topic", "count" / indent the step's options under "publish:" by two more spaces`,
      '8:9 unknown step "publsh" / did you mean "publish"?',
      '9:9 a step must be one of connect, subscribe, publish, unsubscribe, wait, disconnect, repeat, got the number 42 / e.g. - publish: { topic: a/b, qos: 1 }',
    ]);
  });

  it('broker mistakes: scheme, TLS without TLS, missing TLS files, half a client certificate', () => {
    const text = yaml(
      'broker:',
      '  url: tcp://localhost:1883',
      '  protocol: 4',
      'groups: [{ name: g, steps: [connect] }]',
    );
    expect(problems(text).map((p) => `${p.line}:${p.col} ${p.message} / ${p.hint}`)).toEqual([
      '2:8 unsupported URL scheme "tcp://" / write mqtt:// for plain TCP',
      '3:13 protocol must be 3.1, 3.1.1 or 5, got the number 4 / protocol level 4 is MQTT 3.1.1: write 3.1.1',
    ]);
    const tls = yaml('broker:', '  url: mqtt://localhost', '  tls: { verify: false }', 'groups: [{ name: g, steps: [connect] }]');
    expect(where(tls)).toEqual(['3:8 tls applies to mqtts:// and wss:// URLs; this broker is mqtt://localhost']);
    const files = yaml('broker:', '  url: mqtts://localhost', '  tls: { ca: missing-ca.pem, cert: c.pem }', 'groups: [{ name: g, steps: [connect] }]');
    expect(where(files)).toEqual([
      '3:14 tls ca file "missing-ca.pem" does not exist (looked for /scenarios/missing-ca.pem)',
      '3:30 tls cert needs a key too',
      '3:36 tls cert file "c.pem" does not exist (looked for /scenarios/c.pem)',
    ]);
    expect(where(yaml('broker: localhost:1883', 'groups: [{ name: g, steps: [connect] }]'))).toEqual(['1:9 "localhost:1883" is not a broker URL']);
    expect(where(yaml('broker: { hosts: [b] }', 'groups: [{ name: g, steps: [connect] }]'))).toEqual(['1:18 hosts needs a url: they are failover hosts for it']);
    expect(where(yaml('broker: { url: "mqtt://a", hosts: ["ws://b"] }', 'groups: [{ name: g, steps: [connect] }]'))).toEqual([
      '1:36 failover host "ws://b" uses ws:// but the url uses mqtt://',
    ]);
  });

  it('an empty file, and a file that is not a mapping', () => {
    expect(where('')).toEqual(['1:1 the scenario is empty']);
    expect(where('- a\n- b\n')).toEqual(['1:1 a scenario is a mapping of keys (name, broker, groups, …), got a list']);
  });

  it('a scenario file that does not exist', () => {
    expect(loadScenarioFile('/no/such/scenario.yaml')).toEqual({ problems: [{ file: '/no/such/scenario.yaml', line: 0, col: 0, message: 'scenario file not found' }] });
  });
});

describe('several mistakes at once', () => {
  const text = yaml(
    'name: storm',
    'duraton: 10s',
    'groups:',
    '  - name: pubs',
    '    clients: -1',
    '    steps:',
    '      - disconnect',
    '      - connect',
    '      - publish:',
    '          topic: "sensors/#"',
    '          qos: 3',
    '          rate: fast',
    '          count: 10',
  );

  it('are all reported, in file order', () => {
    expect(where(text)).toEqual([
      '2:1 unknown key "duraton" at the top of the scenario',
      '5:14 clients must be from 1 to 1000000, got -1',
      '7:9 disconnect before connect',
      `10:18 publish topic "sensors/#" contains a wildcard ('+' or '#'), which a topic name may not`,
      '11:16 qos must be 0, 1 or 2, got the number 3',
      '12:17 rate: "fast" is not a rate',
    ]);
  });

  it('travel in a ScenarioError for callers that throw', () => {
    const err = new ScenarioError(problems(text));
    expect(err.code).toBe('SCENARIO_INVALID');
    expect(err.problems).toHaveLength(6);
    expect(err.message).toBe(formatProblems(err.problems));
  });

  it('print as file:line:col lines with hints below', () => {
    expect(formatProblems(problems(text))).toBe(
      [
        `${FILE}:2:1: unknown key "duraton" at the top of the scenario`,
        '  hint: did you mean "duration"?',
        `${FILE}:5:14: clients must be from 1 to 1000000, got -1`,
        `${FILE}:7:9: disconnect before connect`,
        '  hint: add a connect step before it',
        `${FILE}:10:18: publish topic "sensors/#" contains a wildcard ('+' or '#'), which a topic name may not`,
        '  hint: wildcards belong in subscriptions; a published topic names one topic [MQTT-3.3.2-2]',
        `${FILE}:11:16: qos must be 0, 1 or 2, got the number 3`,
        '  hint: QoS 0: at most once, 1: at least once, 2: exactly once',
        `${FILE}:12:17: rate: "fast" is not a rate`,
        '  hint: write e.g. 100/s, 6000/min or 30/h',
      ].join('\n'),
    );
  });
});
