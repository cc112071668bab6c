import { describe, expect, it } from 'vitest';
import { bindTemplate, compileTemplate, renderBound, renderTemplate, SEQ_PART, type Template, type TemplateContext } from '../../../src/scenario/templates.js';

function compile(source: string, context: TemplateContext = 'publish-topic'): Template {
  const r = compileTemplate(source, context);
  if ('problems' in r) throw new Error(JSON.stringify(r.problems));
  return r.template;
}

const vars = { clientId: 'dev-7', group: 'sensors', index: 7 };

describe('compileTemplate', () => {
  it('splits a template into literal and variable parts', () => {
    expect(compile('s/{client}/{group}/{i}/{seq}/{rand:10}').parts).toEqual([
      { kind: 'text', text: 's/' },
      { kind: 'client' },
      { kind: 'text', text: '/' },
      { kind: 'group' },
      { kind: 'text', text: '/' },
      { kind: 'i' },
      { kind: 'text', text: '/' },
      { kind: 'seq' },
      { kind: 'text', text: '/' },
      { kind: 'rand', n: 10 },
    ]);
  });

  it('tells per-message templates from per-client and fixed ones', () => {
    expect(compile('a/b')).toMatchObject({ perMessage: false, perClient: false });
    expect(compile('a/{group}')).toMatchObject({ perMessage: false, perClient: false });
    expect(compile('a/{client}')).toMatchObject({ perMessage: false, perClient: true });
    expect(compile('a/{seq}')).toMatchObject({ perMessage: true });
    expect(compile('a/{rand:5}')).toMatchObject({ perMessage: true });
    // Outside a publish topic, {rand:N} is drawn once per use, so it varies per client, not per message.
    expect(compile('a/{rand:5}', 'subscription')).toMatchObject({ perMessage: false, perClient: true });
  });

  it('reads {{ and }} as literal braces', () => {
    expect(renderTemplate(compile('a/{{x}}/{i}'), vars, () => 0)).toBe('a/{x}/7');
  });

  it('reports unknown variables at the offset of their {, with a suggestion', () => {
    expect(compileTemplate('a/{clinet}/{index}', 'publish-topic')).toEqual({
      problems: [
        { offset: 2, message: 'unknown template variable {clinet}', hint: 'did you mean {client}? variables here: {client}, {group}, {i}, {seq}, {rand:N}' },
        { offset: 11, message: 'unknown template variable {index}', hint: 'did you mean {i}? variables here: {client}, {group}, {i}, {seq}, {rand:N}' },
      ],
    });
  });

  it('allows each context its own variables', () => {
    expect(compileTemplate('x/{seq}', 'subscription')).toEqual({
      problems: [
        { offset: 2, message: '{seq} cannot be used in a subscription ({seq} numbers published messages)', hint: 'variables here: {client}, {group}, {i}, {rand:N}' },
      ],
    });
    expect(compileTemplate('{client}', 'client-id')).toMatchObject({
      problems: [{ offset: 0, message: '{client} cannot be used in a client id (the client id cannot contain itself)' }],
    });
    expect(compileTemplate('{rand:3}', 'unsubscription')).toMatchObject({ problems: [{ message: '{rand:3} cannot be used in an unsubscribe filter' }] });
  });

  it('checks {rand:N}', () => {
    for (const bad of ['{rand}', '{rand:0}', '{rand:x}', '{rand:-1}', '{rand:99999999999}']) {
      expect(compileTemplate(bad, 'publish-topic')).toMatchObject({ problems: [{ offset: 0, hint: 'e.g. {rand:100}' }] });
    }
  });

  it('reports an unclosed {', () => {
    expect(compileTemplate('a/{i', 'publish-topic')).toEqual({ problems: [{ offset: 2, message: '"{" is not closed by "}"', hint: 'write {{ for a literal {' }] });
  });
});

describe('binding and rendering', () => {
  it('binds per-client variables into one fixed string when nothing changes per message', () => {
    const bound = bindTemplate(compile('t/{group}/{client}/{i}'), vars, () => 0.5);
    expect(bound).toEqual({ fixed: true, text: 't/sensors/dev-7/7' });
    const text = renderBound(bound, 1, () => 0);
    // The fixed text itself comes back: nothing is built per message.
    expect(text).toBe(bound.fixed ? bound.text : '');
  });

  it('leaves {seq} and a publish topic {rand:N} for each message, merging literals', () => {
    const bound = bindTemplate(compile('t/{client}/{seq}/x{rand:100}'), vars, () => 0);
    expect(bound).toEqual({ fixed: false, parts: ['t/dev-7/', SEQ_PART, '/x', 100] });
    expect(renderBound(bound, 42, () => 0.999)).toBe('t/dev-7/42/x99');
    expect(renderBound(bound, 43, () => 0)).toBe('t/dev-7/43/x0');
  });

  it('draws {rand:N} in [0, N)', () => {
    const t = compile('{rand:3}');
    const seen = new Set<string>();
    let x = 0;
    const stepper = (): number => ((x = (x + 0.37) % 1), x);
    for (let k = 0; k < 100; k++) seen.add(renderTemplate(t, vars, stepper));
    expect([...seen].sort()).toEqual(['0', '1', '2']);
  });

  it('draws {rand:N} once when binding a subscription', () => {
    const bound = bindTemplate(compile('s/{rand:10}', 'subscription'), vars, () => 0.45);
    expect(bound).toEqual({ fixed: true, text: 's/4' });
  });
});
