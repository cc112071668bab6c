/**
 * Mosquitto 2.0's ACL file: `topic [read|write|readwrite|deny] <filter>` lines before any `user` line are the rules
 * of anonymous clients; `user <name>` starts a user's section; `pattern [access] <filter>` lines (anywhere) apply to
 * every client, with `%c` replaced by its client id and `%u` by its user name. Parsed with every problem located
 * at file:line, and Mosquitto's warning for a pattern without `%c` or `%u`.
 */
import { topicFilterProblem } from '../../src/protocol/topic.js';
import type { FileProblem } from './problems.js';

/** Access bits (Mosquitto's MOSQ_ACL_READ / MOSQ_ACL_WRITE); 0 is `deny`. */
export const ACL_READ = 1;
export const ACL_WRITE = 2;
export const ACL_DENY = 0;

export interface AclRule {
  filter: string;
  /** ACL_READ, ACL_WRITE, both, or ACL_DENY. */
  access: number;
  line: number;
}

export interface AclFile {
  /** Rules of clients without a user name: `topic` lines before the first `user` line. */
  anonymous: AclRule[];
  users: Map<string, AclRule[]>;
  /** `pattern` lines, before substitution. */
  patterns: AclRule[];
  /** Non-blank, non-comment lines read. */
  lineCount: number;
}

export interface ParsedAclFile {
  acl: AclFile;
  problems: FileProblem[];
  /** Lines Mosquitto warns about (and accepts). */
  warnings: FileProblem[];
}

const ACCESS: Record<string, number> = { read: ACL_READ, write: ACL_WRITE, readwrite: ACL_READ | ACL_WRITE, deny: ACL_DENY };

export function parseAclFile(text: string, file: string): ParsedAclFile {
  const acl: AclFile = { anonymous: [], users: new Map(), patterns: [], lineCount: 0 };
  const problems: FileProblem[] = [];
  const warnings: FileProblem[] = [];
  let current = acl.anonymous;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const line = i + 1;
    const raw = lines[i].replace(/\s+$/, '');
    if (raw.startsWith('#')) continue;
    const body = raw.replace(/^ +/, '');
    if (body === '') continue;
    acl.lineCount++;
    const space = body.indexOf(' ');
    const keyword = space < 0 ? body : body.slice(0, space);
    const rest = space < 0 ? '' : body.slice(space + 1).replace(/^ +/, '');
    if (keyword === 'user') {
      if (rest === '') {
        problems.push({ file, line, message: 'user needs a user name' });
        continue;
      }
      let rules = acl.users.get(rest);
      if (rules === undefined) {
        rules = [];
        acl.users.set(rest, rules);
      }
      current = rules;
      continue;
    }
    if (keyword !== 'topic' && keyword !== 'pattern') {
      problems.push({ file, line, message: `expected "topic", "pattern" or "user", got "${keyword}"` });
      continue;
    }
    if (rest === '') {
      problems.push({ file, line, message: `${keyword} needs a topic filter` });
      continue;
    }
    // `topic <filter>` grants read and write; `topic <access> <filter>` names the access. A filter may hold spaces.
    const sep = rest.indexOf(' ');
    let access = ACL_READ | ACL_WRITE;
    let filter = rest;
    if (sep >= 0) {
      const word = rest.slice(0, sep);
      const known = ACCESS[word];
      if (known === undefined || !Object.hasOwn(ACCESS, word)) {
        problems.push({ file, line, message: `access must be read, write, readwrite or deny, got "${word}"` });
        continue;
      }
      access = known;
      filter = rest.slice(sep + 1).trim();
    }
    const problem = topicFilterProblem(filter);
    if (problem !== undefined || filter.startsWith('$share/')) {
      problems.push({ file, line, message: `"${filter}" is not a valid topic filter` });
      continue;
    }
    const rule = { filter, access, line };
    if (keyword === 'pattern') {
      if (!filter.includes('%c') && !filter.includes('%u')) {
        warnings.push({ file, line, message: `ACL pattern '${filter}' does not contain '%c' or '%u'.` });
      }
      acl.patterns.push(rule);
    } else {
      current.push(rule);
    }
  }
  return { acl, problems, warnings };
}
