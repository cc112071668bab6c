/**
 * An ACL file of 10,000 lines (2,001 user sections, 1,997 anonymous rules, a pattern), the same for the bundled
 * broker and Mosquitto: the last user's rules and the last anonymous rule apply, neighbours' do not, and the broker
 * stays quick to answer.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../../broker/auth/password-file.js';
import { testBrokerKinds } from '../../helpers/brokers.js';
import { ConfigDir, startConfiguredBroker, type ConfiguredBroker } from '../../helpers/config-brokers.js';
import { TestResources, uniqueName } from '../../helpers/raw-client.js';

const dir = new ConfigDir();
const USERS = 2_000;
const ANON_RULES = 1_997;
let aclFile: string;
let pwFile: string;
beforeAll(async () => {
  const lines: string[] = [];
  for (let i = 0; i < ANON_RULES; i++) lines.push(`topic read anon/${i}/#`);
  lines.push('pattern read mine/%c/#');
  for (let i = 0; i < USERS; i++) lines.push(`user u${i}`, `topic read data/${i}/#`, `topic write cmd/${i}/#`, `topic deny data/${i}/secret`);
  // The writer may write everything: a section of its own at the very end.
  lines.push('user writer', 'topic write #');
  expect(lines).toHaveLength(10_000);
  aclFile = dir.file('large.acl', lines.join('\n') + '\n');
  pwFile = dir.file('large.pw', [`u${USERS - 1}:${await hashPassword('last')}`, `writer:${await hashPassword('w')}`, ''].join('\n'));
});
afterAll(() => dir.remove());

describe.each(testBrokerKinds())('%s broker: an ACL file of 10,000 lines', (kind) => {
  const res = new TestResources();
  let b: ConfiguredBroker;
  beforeAll(async () => {
    b = await startConfiguredBroker(kind, dir, ['mqtt'], (p) => [`listener ${p.mqtt} 127.0.0.1`, 'allow_anonymous true', `password_file ${pwFile}`, `acl_file ${aclFile}`].join('\n'));
  });
  afterAll(() => b?.stop());
  afterEach(() => res.releaseAll());

  it('applies the last user section and the last anonymous rule, and nobody else\'s', async () => {
    const ep = { host: '127.0.0.1', port: b.ports.mqtt };
    const last = await res.connect(ep, 4, { clientId: uniqueName('last'), username: `u${USERS - 1}`, password: Buffer.from('last') });
    await last.subscribe('data/#', 1);
    const anonId = uniqueName('anon');
    const anon = await res.connect(ep, 4, { clientId: anonId });
    await anon.subscribe('#', 1);
    const writer = await res.connect(ep, 4, { clientId: uniqueName('writer'), username: 'writer', password: Buffer.from('w') });
    const topics = [`data/${USERS - 1}/x`, `data/${USERS - 2}/x`, `data/${USERS - 1}/secret`, `anon/${ANON_RULES - 1}/y`, `anon/${ANON_RULES}/y`, `mine/${anonId}/z`];
    for (const t of topics) await writer.publish(t, t, { qos: 1 });
    expect((await last.receive()).topic).toBe(`data/${USERS - 1}/x`);
    await last.expectNothing(300, 'publish');
    const got = [(await anon.receive()).topic, (await anon.receive()).topic].sort();
    expect(got).toEqual([`anon/${ANON_RULES - 1}/y`, `mine/${anonId}/z`]);
    await anon.expectNothing(200, 'publish');
    // Its write section holds too: cmd/<own>/# only.
    const ok = await last.publish(`cmd/${USERS - 1}/go`, 'x', { qos: 1 });
    expect(ok?.cmd).toBe('puback');
  });

  it('answers 2,000 PUBLISH checks against it within a second', async () => {
    const ep = { host: '127.0.0.1', port: b.ports.mqtt };
    const c = await res.connect(ep, 5, { clientId: uniqueName('checks'), username: `u${USERS - 1}`, password: Buffer.from('last') });
    const t0 = performance.now();
    for (let i = 0; i < 2_000; i++) c.send({ cmd: 'publish', topic: `cmd/${i}/x`, payload: Buffer.from('x'), qos: 1, messageId: i + 1, retain: false, dup: false });
    const acks = await c.nextN('puback', 2_000, 10_000);
    expect(performance.now() - t0).toBeLessThan(1_000);
    // Its own topic is allowed (no subscriber: 0x10 in v5), every other user's is not.
    expect(acks.filter((a) => a.reasonCode === 0x87)).toHaveLength(1_999);
  });
});
