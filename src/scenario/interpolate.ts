/**
 * `${NAME}` and `${NAME:-default}` in scenario values, as in shells and docker compose. `$$` is a literal `$`.
 * Problems carry the offset of the `${` in the input so the loader can point at it.
 */

export type Env = Readonly<Record<string, string | undefined>>;

export interface InterpolationProblem {
  /** Offset in the input of the `$` that starts the bad reference. */
  offset: number;
  message: string;
  hint?: string;
}

export interface Interpolated {
  value: string;
  /** Did the input contain any `${…}` or `$$`? */
  changed: boolean;
  problems: InterpolationProblem[];
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** Replace every reference; an unset variable without a default is a problem (and is replaced by ""). */
export function interpolate(input: string, env: Env): Interpolated {
  if (!input.includes('$')) return { value: input, changed: false, problems: [] };
  let out = '';
  let changed = false;
  const problems: InterpolationProblem[] = [];
  let i = 0;
  while (i < input.length) {
    const dollar = input.indexOf('$', i);
    if (dollar < 0) {
      out += input.slice(i);
      break;
    }
    out += input.slice(i, dollar);
    const next = input[dollar + 1];
    if (next === '$') {
      out += '$';
      changed = true;
      i = dollar + 2;
      continue;
    }
    if (next !== '{') {
      out += '$';
      i = dollar + 1;
      continue;
    }
    changed = true;
    const close = input.indexOf('}', dollar + 2);
    if (close < 0) {
      problems.push({
        offset: dollar,
        message: `"\${" is not closed by "}"`,
        hint: 'write ${NAME} or ${NAME:-default}; write $$ for a literal $',
      });
      out += input.slice(dollar);
      break;
    }
    const body = input.slice(dollar + 2, close);
    const sep = body.indexOf(':-');
    const name = sep < 0 ? body : body.slice(0, sep);
    const fallback = sep < 0 ? undefined : body.slice(sep + 2);
    if (!NAME.test(name)) {
      problems.push({
        offset: dollar,
        message: `"\${${body}}" does not name an environment variable`,
        hint:
          sep < 0 && body.includes('-') && NAME.test(body.slice(0, body.indexOf('-')))
            ? `for a default write \${${body.slice(0, body.indexOf('-'))}:-${body.slice(body.indexOf('-') + 1)}}`
            : 'names are letters, digits and _, not starting with a digit',
      });
    } else {
      const value = env[name];
      // As in shells, ":-" also replaces a variable that is set but empty.
      if (value !== undefined && (value !== '' || fallback === undefined)) out += value;
      else if (fallback !== undefined) out += fallback;
      else {
        problems.push({
          offset: dollar,
          message: `environment variable ${name} is not set`,
          hint: `set it, or give a default: \${${name}:-value}`,
        });
      }
    }
    i = close + 1;
  }
  return { value: out, changed, problems };
}
