/**
 * Topic and client id templates (`sensors/{client}/{seq}`), compiled once into parts. Binding a template to a
 * client fills in the per-client variables; what is left is either one fixed string (the engine can encode the
 * packet once) or a short list of literal and per-message parts, rendered without regular expressions.
 */
import { suggest } from '../util/suggest.js';

/** Where a template is used decides its variables and whether `{rand:N}` is drawn per message or per use. */
export type TemplateContext = 'client-id' | 'publish-topic' | 'subscription' | 'will-topic' | 'unsubscription';

export type TemplatePart =
  | { kind: 'text'; text: string }
  | { kind: 'client' }
  | { kind: 'group' }
  | { kind: 'i' }
  | { kind: 'seq' }
  | { kind: 'rand'; n: number };

/** A compiled template: plain data, so it crosses worker threads as part of the scenario. */
export interface Template {
  source: string;
  context: TemplateContext;
  parts: TemplatePart[];
  /** Changes from one message to the next ({seq}, or {rand:N} in a publish topic). */
  perMessage: boolean;
  /** Changes from one client to the next ({client}, {i}, or {rand:N}). */
  perClient: boolean;
}

export interface TemplateProblem {
  /** Offset in the source of the `{` that starts the bad variable. */
  offset: number;
  message: string;
  hint?: string;
}

const VARIABLES: Record<TemplateContext, readonly string[]> = {
  'client-id': ['group', 'i', 'rand:N'],
  'publish-topic': ['client', 'group', 'i', 'seq', 'rand:N'],
  subscription: ['client', 'group', 'i', 'rand:N'],
  'will-topic': ['client', 'group', 'i', 'rand:N'],
  // A random part could never name the filter that was subscribed, so unsubscribing offers none.
  unsubscription: ['client', 'group', 'i'],
};

const CONTEXT_NAMES: Record<TemplateContext, string> = {
  'client-id': 'a client id',
  'publish-topic': 'a publish topic',
  subscription: 'a subscription',
  'will-topic': 'a will topic',
  unsubscription: 'an unsubscribe filter',
};

const ALIASES: Record<string, string> = {
  index: 'i',
  idx: 'i',
  n: 'i',
  num: 'i',
  clientid: 'client',
  clientId: 'client',
  id: 'client',
  sequence: 'seq',
  random: 'rand:N',
  rnd: 'rand:N',
};

/** The variables a context accepts, for messages and docs. */
export function templateVariables(context: TemplateContext): readonly string[] {
  return VARIABLES[context];
}

const MAX_RAND = 2 ** 31;

export function compileTemplate(
  source: string,
  context: TemplateContext,
): { template: Template } | { problems: TemplateProblem[] } {
  const allowed = VARIABLES[context];
  const parts: TemplatePart[] = [];
  const problems: TemplateProblem[] = [];
  let text = '';
  const flush = (): void => {
    if (text !== '') parts.push({ kind: 'text', text });
    text = '';
  };
  let i = 0;
  while (i < source.length) {
    const c = source[i];
    if (c === '}') {
      text += '}';
      i += source[i + 1] === '}' ? 2 : 1;
      continue;
    }
    if (c !== '{') {
      text += c;
      i++;
      continue;
    }
    if (source[i + 1] === '{') {
      text += '{';
      i += 2;
      continue;
    }
    const close = source.indexOf('}', i + 1);
    if (close < 0) {
      problems.push({ offset: i, message: `"{" is not closed by "}"`, hint: 'write {{ for a literal {' });
      break;
    }
    const name = source.slice(i + 1, close);
    const part = variablePart(name, i, context, allowed, problems);
    if (part) {
      flush();
      parts.push(part);
    }
    i = close + 1;
  }
  flush();
  if (problems.length > 0) return { problems };
  const randPerMessage = context === 'publish-topic';
  let perMessage = false;
  let perClient = false;
  for (const p of parts) {
    if (p.kind === 'seq' || (p.kind === 'rand' && randPerMessage)) perMessage = true;
    if (p.kind === 'client' || p.kind === 'i' || p.kind === 'rand') perClient = true;
  }
  return { template: { source, context, parts, perMessage, perClient } };
}

function variablePart(
  name: string,
  offset: number,
  context: TemplateContext,
  allowed: readonly string[],
  problems: TemplateProblem[],
): TemplatePart | undefined {
  if (name === 'rand' || name.startsWith('rand:')) {
    if (!allowed.includes('rand:N')) {
      problems.push({ offset, message: `{${name}} cannot be used in ${CONTEXT_NAMES[context]}`, hint: listHint(allowed) });
      return undefined;
    }
    const nText = name.slice(5);
    const n = Number(nText);
    if (name === 'rand' || !/^\d+$/.test(nText) || n < 1 || n > MAX_RAND) {
      problems.push({
        offset,
        message: `{${name}} needs a whole number N from 1 to ${MAX_RAND}: {rand:N} is a random integer in [0, N)`,
        hint: 'e.g. {rand:100}',
      });
      return undefined;
    }
    return { kind: 'rand', n };
  }
  if (name === 'client' || name === 'group' || name === 'i' || name === 'seq') {
    if (allowed.includes(name)) return { kind: name };
    const why =
      name === 'seq'
        ? ' ({seq} numbers published messages)'
        : name === 'client'
          ? ' (the client id cannot contain itself)'
          : '';
    problems.push({ offset, message: `{${name}} cannot be used in ${CONTEXT_NAMES[context]}${why}`, hint: listHint(allowed) });
    return undefined;
  }
  const alias = ALIASES[name] ?? ALIASES[name.toLowerCase()];
  const guess = alias && allowed.includes(alias) ? alias : suggest(name, allowed);
  problems.push({
    offset,
    message: `unknown template variable {${name}}`,
    hint: guess ? `did you mean {${guess}}? ${listHint(allowed)}` : `${listHint(allowed)}; write {{ for a literal {`,
  });
  return undefined;
}

function listHint(allowed: readonly string[]): string {
  return `variables here: ${allowed.map((v) => `{${v}}`).join(', ')}`;
}

/** What a client knows about itself when its templates are bound. */
export interface ClientVars {
  /** The client's id ('' while the client id itself is being rendered). */
  clientId: string;
  group: string;
  /** Global index within the group, 0-based. */
  index: number;
}

/** Per-message parts: literal text, SEQ_PART for {seq}, or a positive N for {rand:N}. */
export type MessagePart = string | number;
export const SEQ_PART = -1;

/** A template bound to one client: a fixed string, or parts to render per message. */
export type BoundTemplate = { fixed: true; text: string } | { fixed: false; parts: MessagePart[] };

/** Fill in the per-client variables (and per-use `{rand:N}`); adjacent literals are merged. */
export function bindTemplate(t: Template, vars: ClientVars, random: () => number): BoundTemplate {
  const parts: MessagePart[] = [];
  let text = '';
  const randPerMessage = t.context === 'publish-topic';
  for (const p of t.parts) {
    switch (p.kind) {
      case 'text':
        text += p.text;
        break;
      case 'client':
        text += vars.clientId;
        break;
      case 'group':
        text += vars.group;
        break;
      case 'i':
        text += String(vars.index);
        break;
      case 'seq':
        if (text !== '') parts.push(text);
        text = '';
        parts.push(SEQ_PART);
        break;
      case 'rand':
        if (randPerMessage) {
          if (text !== '') parts.push(text);
          text = '';
          parts.push(p.n);
        } else {
          text += String(Math.floor(random() * p.n));
        }
        break;
    }
  }
  if (parts.length === 0) return { fixed: true, text };
  if (text !== '') parts.push(text);
  return { fixed: false, parts };
}

/** The text of one message's template: no allocation at all when the bound template is fixed. */
export function renderBound(b: BoundTemplate, seq: number, random: () => number): string {
  if (b.fixed) return b.text;
  const parts = b.parts;
  let s = '';
  for (let k = 0; k < parts.length; k++) {
    const p = parts[k];
    if (typeof p === 'string') s += p;
    else if (p === SEQ_PART) s += seq;
    else s += Math.floor(random() * p);
  }
  return s;
}

/** Bind and render in one go, for templates used once per client (client ids, subscriptions, will topics). */
export function renderTemplate(t: Template, vars: ClientVars, random: () => number, seq = 0): string {
  return renderBound(bindTemplate(t, vars, random), seq, random);
}
