/** The `groups:` list: each group's clients, client ids, credentials, arrival and steps, and checks across groups. */
import { suggest } from '../util/suggest.js';
import { checkClientIds, type GroupIds } from './check-client-ids.js';
import { checkFlow } from './check-flow.js';
import { COMMAND_LINE } from './errors.js';
import { clientStartOffsetMs } from './plan.js';
import { readProtocol } from './read-broker.js';
import { readSteps, readTemplate } from './read-steps.js';
import { flagged, labelOf, type ReadContext } from './reader.js';
import { DEFAULTS, MAX_GROUP_CLIENTS, type Arrival, type BrokerSettings, type ClientGroup } from './schema.js';
import { commandLineScalar, type Place, type RawMap, type RawNode, type RawScalar } from './source-tree.js';
import { compileTemplate, renderTemplate, type Template } from './templates.js';
import { formatDurationMs } from './units.js';

const GROUP_KEYS = [
  'name',
  'clients',
  'clientId',
  'randomSuffix',
  'allowDuplicateClientIds',
  'protocol',
  'username',
  'password',
  'startTime',
  'connectRate',
  'rampUp',
  'steps',
];
const GROUP_SYNONYMS: Record<string, string> = {
  count: 'clients',
  vus: 'clients',
  threads: 'clients',
  clientidprefix: 'clientId',
  prefix: 'clientId',
  idpattern: 'clientId',
  suffix: 'randomSuffix',
  randomclientidsuffix: 'randomSuffix',
  start: 'startTime',
  startafter: 'startTime',
  delay: 'startTime',
  offset: 'startTime',
  ramp: 'rampUp',
  rampuptime: 'rampUp',
  rate: 'connectRate',
  arrivalrate: 'connectRate',
  version: 'protocol',
  user: 'username',
  samplers: 'steps',
};
const GROUP_NAME = /^[A-Za-z0-9_-]+$/;
const MAX_SUFFIX = 64;

export function readGroups(
  ctx: ReadContext,
  node: RawNode,
  broker: BrokerSettings,
  durationMs: number | undefined,
  bounded: boolean,
  clientsOverride: RawScalar | undefined,
): ClientGroup[] {
  const items = ctx.r.list(node, 'groups');
  if (!items) return [];
  if (items.length === 0) {
    ctx.problems.at(node.place, 'groups is empty', 'a scenario needs at least one group of clients');
    return [];
  }
  const names = items.map(groupNameOf);
  const clientCounts = clientsOverride ? readClientsOverride(ctx, clientsOverride, names) : new Map<string, RawNode>();
  const groups: ClientGroup[] = [];
  const idPlaces: GroupIds[] = [];
  const seen = new Map<string, Place>();
  for (const item of items) {
    const read = readGroup(ctx, item, broker, durationMs, bounded, clientCounts);
    if (!read) continue;
    const earlier = seen.get(read.group.name);
    if (earlier) {
      ctx.problems.at(read.namePlace, `there are two groups named "${read.group.name}" (the other at line ${earlier.line})`, 'group names are unique');
    } else {
      seen.set(read.group.name, read.namePlace);
    }
    groups.push(read.group);
    idPlaces.push({ group: read.group, place: read.idPlace });
  }
  checkClientIds(idPlaces, ctx.problems);
  return groups;
}

function groupNameOf(item: RawNode): string | undefined {
  if (item.kind !== 'map') return undefined;
  const n = item.entries.find((e) => e.key === 'name')?.value;
  return n?.kind === 'scalar' && typeof n.value === 'string' ? n.value : undefined;
}

/** `--clients 50` (one group) or `--clients pub=10,sub=2`. */
function readClientsOverride(ctx: ReadContext, node: RawScalar, names: (string | undefined)[]): Map<string, RawNode> {
  const out = new Map<string, RawNode>();
  const text = String(node.value).trim();
  const known = names.filter((n): n is string => n !== undefined);
  if (!text.includes('=')) {
    if (names.length === 1 && known.length === 1) out.set(known[0], flagged(commandLineScalar(text, COMMAND_LINE), '--clients'));
    else if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > MAX_GROUP_CLIENTS) {
      // Checked here, not left to each group: a hint that splits a bad count over the groups would be refused too.
      ctx.problems.at(node.place, `--clients ${text}: a count of clients is a whole number from 1 to ${MAX_GROUP_CLIENTS.toLocaleString('en-US')}`);
    } else {
      ctx.problems.at(
        node.place,
        `--clients ${text}: the scenario has ${names.length} groups; say which one`,
        `e.g. --clients ${known.map((n) => `${n}=${text}`).join(',')}`,
      );
    }
    return out;
  }
  for (const part of text.split(',')) {
    const eq = part.indexOf('=');
    const name = part.slice(0, eq).trim();
    const count = part.slice(eq + 1).trim();
    if (eq < 0 || name === '' || count === '') {
      ctx.problems.at(node.place, `--clients: "${part}" is not group=count`, 'e.g. --clients publishers=10,subscribers=2');
      continue;
    }
    if (!known.includes(name)) {
      const guess = suggest(name, known);
      ctx.problems.at(node.place, `--clients: there is no group "${name}"`, guess ? `did you mean "${guess}"?` : `groups: ${known.join(', ')}`);
      continue;
    }
    out.set(name, flagged(commandLineScalar(count, COMMAND_LINE), `--clients ${name}`));
  }
  return out;
}

interface ReadGroup {
  group: ClientGroup;
  namePlace: Place;
  idPlace: Place;
}

function readGroup(
  ctx: ReadContext,
  node: RawNode,
  broker: BrokerSettings,
  durationMs: number | undefined,
  bounded: boolean,
  clientCounts: Map<string, RawNode>,
): ReadGroup | undefined {
  const { r, problems } = ctx;
  const m = r.map(node, 'a group', GROUP_KEYS, 'in a group', GROUP_SYNONYMS);
  if (!m) return undefined;
  const nameNode = m.take('name');
  let name: string | undefined;
  if (!nameNode) problems.at(node.place, 'a group needs a name', 'e.g. name: publishers');
  else {
    name = r.string(nameNode, 'name', { nonEmpty: true });
    if (name !== undefined && !GROUP_NAME.test(name)) {
      problems.at(nameNode.place, `group name "${name}" may only have letters, digits, "_" and "-"`, 'names appear in topics ({group}), client ids and reports');
      name = undefined;
    }
  }
  const label = name ?? 'group';

  const clientsWritten = m.take('clients');
  const clientsNode = (name !== undefined ? clientCounts.get(name) : undefined) ?? clientsWritten;
  const clients = clientsNode
    ? r.integer(clientsNode, labelOf(clientsNode, 'clients'), 1, MAX_GROUP_CLIENTS) ?? DEFAULTS.clients
    : DEFAULTS.clients;

  const idNode = m.take('clientId');
  const clientId: Template | undefined = idNode
    ? readTemplate(ctx, idNode, 'clientId', 'client-id')
    : (compileTemplate(DEFAULTS.clientId, 'client-id') as { template: Template }).template;
  const suffixNode = m.take('randomSuffix');
  let randomSuffix = 0;
  if (suffixNode) {
    if (suffixNode.kind === 'scalar' && typeof suffixNode.value === 'boolean') randomSuffix = suffixNode.value ? DEFAULTS.randomSuffixLength : 0;
    else randomSuffix = r.integer(suffixNode, 'randomSuffix', 0, MAX_SUFFIX, 'true, false, or the number of random characters') ?? 0;
  }
  const dupNode = m.take('allowDuplicateClientIds');
  const allowDuplicateClientIds = dupNode ? r.boolean(dupNode, 'allowDuplicateClientIds') ?? false : false;

  const protocolNode = m.take('protocol');
  const protocolVersion = protocolNode ? readProtocol(ctx, protocolNode) ?? broker.protocolVersion : broker.protocolVersion;
  const usernameNode = m.take('username');
  const passwordNode = m.take('password');
  const username = usernameNode ? r.string(usernameNode, 'username') : broker.username;
  const password = passwordNode ? r.string(passwordNode, 'password') : broker.password;

  const startNode = m.take('startTime');
  const startTimeMs = startNode ? r.duration(startNode, 'startTime') ?? 0 : 0;
  const arrival = readArrival(ctx, m.take('connectRate'), m.take('rampUp'), m.node, clients);

  const stepsNode = m.take('steps');
  m.finish();
  const group: ClientGroup = {
    name: name ?? '',
    clients,
    clientId: clientId ?? { source: '', context: 'client-id', parts: [], perMessage: false, perClient: false },
    randomSuffix,
    allowDuplicateClientIds,
    protocolVersion,
    username,
    password,
    startTimeMs,
    arrival,
    steps: [],
  };
  const sampleId = renderTemplate(group.clientId, { clientId: '', group: group.name, index: 0 }, () => 0) + 'x'.repeat(randomSuffix);
  const scope = { protocolVersion, sample: { clientId: sampleId, group: group.name, index: 0 }, clients };
  const before = problems.count;
  if (!stepsNode) problems.at(node.place, `group ${label} needs steps`, 'e.g. steps: [connect, { subscribe: sensors/# }]');
  else group.steps = readSteps(ctx, stepsNode, scope);

  const file = node.place.file;
  checkFlow(
    group.steps,
    {
      file,
      protocolVersion,
      runHasDuration: bounded,
      emptyClientId: clientId !== undefined && clientId.source === '' && randomSuffix === 0,
      incomplete: problems.count > before,
    },
    problems,
  );
  if (durationMs !== undefined) checkStartsWithinRun(ctx, group, durationMs, startNode, m);
  if (name === undefined || clientId === undefined) return undefined;
  return { group, namePlace: nameNode!.place, idPlace: idNode?.place ?? node.place };
}

function readArrival(ctx: ReadContext, rateNode: RawNode | undefined, rampNode: RawNode | undefined, groupNode: RawMap, clients: number): Arrival {
  if (rateNode && rampNode) {
    const place = groupNode.entries.find((e) => e.key === 'rampUp')?.keyPlace ?? rampNode.place;
    ctx.problems.at(place, 'a group has either connectRate or rampUp, not both', 'connectRate: clients per second; rampUp: time over which all clients start');
    return { kind: 'all-at-once' };
  }
  if (rateNode) {
    const perSec = ctx.r.rate(rateNode, 'connectRate');
    return perSec === undefined ? { kind: 'all-at-once' } : { kind: 'rate', perSec };
  }
  if (rampNode) {
    const ms = ctx.r.duration(rampNode, 'rampUp');
    if (ms === undefined || ms === 0 || clients === 1) return { kind: 'all-at-once' };
    return { kind: 'ramp-up', durationMs: ms };
  }
  return { kind: 'all-at-once' };
}

function checkStartsWithinRun(ctx: ReadContext, group: ClientGroup, durationMs: number, startNode: RawNode | undefined, m: { node: RawMap }): void {
  if (group.startTimeMs >= durationMs) {
    ctx.problems.at(
      startNode?.place ?? m.node.place,
      `group ${group.name} starts at ${formatDurationMs(group.startTimeMs)}, but the run lasts ${formatDurationMs(durationMs)}`,
      'start it earlier or make the run longer',
    );
    return;
  }
  const last = clientStartOffsetMs(group, group.clients - 1);
  if (last >= durationMs) {
    const key = group.arrival.kind === 'rate' ? 'connectRate' : 'rampUp';
    const place = m.node.entries.find((e) => e.key === key)?.value.place ?? m.node.place;
    ctx.problems.at(
      place,
      `the last client of group ${group.name} would start at ${formatDurationMs(last)}, but the run lasts ${formatDurationMs(durationMs)}`,
      group.arrival.kind === 'rate' ? 'raise connectRate, or make the run longer' : 'shorten rampUp, or make the run longer',
    );
  }
}
