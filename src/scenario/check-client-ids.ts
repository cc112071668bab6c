/**
 * Client ids across the whole scenario: two clients with one id take each other's session over, again and again,
 * which is a mistake unless the scenario says it is the point.
 */
import type { Problems } from './reader.js';
import type { ClientGroup } from './schema.js';
import type { Place } from './source-tree.js';
import { renderTemplate } from './templates.js';

export interface GroupIds {
  group: ClientGroup;
  /** Where the group's clientId is written, or the group itself when it uses the default. */
  place: Place;
}

/** The ids clients get at random (a random suffix or {rand:N}) are made unique by the plan, not checked here. */
function isRandom(g: ClientGroup): boolean {
  return g.randomSuffix > 0 || g.clientId.parts.some((p) => p.kind === 'rand');
}

export function checkClientIds(groups: GroupIds[], problems: Problems): void {
  const owners = new Map<string, { group: number; index: number }>();
  const reportedPairs = new Set<string>();
  groups.forEach(({ group, place }, gi) => {
    checkEmptyIdV31(group, place, problems);
    if (isRandom(group) || group.clientId.source === '') return;
    const perClient = group.clientId.parts.some((p) => p.kind === 'i');
    if (!perClient && group.clients > 1 && !group.allowDuplicateClientIds) {
      const id = renderTemplate(group.clientId, { clientId: '', group: group.name, index: 0 }, () => 0);
      problems.at(
        place,
        `all ${group.clients} clients of group "${group.name}" would use the client id "${id}", and each would take over the others' session`,
        'add {i} to the clientId (e.g. "' + id + '-{i}"), set randomSuffix: true, or set allowDuplicateClientIds: true if the takeover is what you test',
      );
    }
    // One id per client is enough to find clashes with other groups; a group without {i} has one id.
    const count = perClient ? group.clients : 1;
    for (let i = 0; i < count; i++) {
      const id = renderTemplate(group.clientId, { clientId: '', group: group.name, index: i }, () => 0);
      const owner = owners.get(id);
      if (owner === undefined) {
        owners.set(id, { group: gi, index: i });
        continue;
      }
      if (owner.group === gi) continue;
      const other = groups[owner.group].group;
      const pair = `${owner.group}/${gi}`;
      if (reportedPairs.has(pair) || (group.allowDuplicateClientIds && other.allowDuplicateClientIds)) continue;
      reportedPairs.add(pair);
      problems.at(
        place,
        `client ${i} of group "${group.name}" and client ${owner.index} of group "${other.name}" would both use the client id "${id}"`,
        'give the groups different client ids (the default "{group}-{i}" is unique), or set allowDuplicateClientIds: true in both groups',
      );
    }
  });
}

/**
 * MQTT 3.1 has no server-assigned ids, so an empty one cannot be sent. Ids longer than 3.1's 23 characters are left
 * alone: Mosquitto 2.0 accepts them, and how a broker treats them is a fair thing to test.
 */
function checkEmptyIdV31(group: ClientGroup, place: Place, problems: Problems): void {
  if (group.protocolVersion !== 3) return;
  if (group.clientId.source === '' && group.randomSuffix === 0) {
    problems.at(place, 'MQTT 3.1 needs a client id; an empty one cannot be sent', 'give the clients ids, or use protocol 3.1.1 or 5');
  }
}
