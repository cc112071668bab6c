/**
 * The suite covers the spec: every statement that binds a server and can be observed on the wire has at least one
 * check, and every check names real statements of its version.
 */
import { describe, expect, it } from 'vitest';
import { ALL_CHECKS } from '../../../src/conformance/checks/index.js';
import { STATEMENTS } from '../../../src/conformance/statements.js';

describe('conformance checks', () => {
  it('have unique ids of the form <version>/<chapter>/<name>', () => {
    const ids = ALL_CHECKS.map((c) => c.id);
    expect(ids.filter((id, i) => ids.indexOf(id) !== i)).toEqual([]);
    for (const c of ALL_CHECKS) expect(c.id, c.id).toMatch(new RegExp(`^${c.version.replace('.', '\\.')}/[0-9.]+/[a-z0-9-]+$`));
  });

  it('name only statements of their own version that are checked on the wire', () => {
    const known = new Map(STATEMENTS.map((s) => [`${s.version} ${s.id}`, s]));
    const wrong: string[] = [];
    for (const c of ALL_CHECKS) {
      expect(c.statements.length, c.id).toBeGreaterThan(0);
      for (const s of c.statements) {
        const st = known.get(`${c.version} ${s}`);
        if (st === undefined) wrong.push(`${c.id}: ${s} is not a ${c.version} statement`);
        else if (st.check !== 'wire') wrong.push(`${c.id}: ${s} is marked ${st.check} (${st.reason})`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it.each(['3.1.1', '5.0'] as const)('cover every server-observable statement of MQTT %s', (version) => {
    const covered = new Set(ALL_CHECKS.filter((c) => c.version === version).flatMap((c) => c.statements));
    const missing = STATEMENTS.filter((s) => s.version === version && s.check === 'wire' && !covered.has(s.id)).map((s) => s.id);
    expect(missing).toEqual([]);
  });
});
