import { invalidArgument } from '../../../lib/errors';

// Templated secrets and configs (`Templating: {Name: "golang"}`), rendered per task on the node as
// swarmkit's template package does, for the subset of Go's text/template it documents: fields of
// the task's context (`{{ .Service.Name }}`, `{{ .Task.Slot }}`, `{{ .Node.Hostname }}`…), and the
// functions `env`, `secret` and `config` with one string argument. Comments and the `{{-`/`-}}`
// trim markers are honoured. Anything else (pipelines, if, range, variables) is refused with an
// error naming it, so the task is rejected instead of running with a half-rendered file.

export interface TemplateContext {
  Service: { ID: string; Name: string; Labels: Record<string, string> };
  Node: { ID: string; Hostname: string; Platform: { Architecture: string; OS: string } };
  Task: { ID: string; Name: string; Slot: string };
}

export interface TemplateFunctions {
  /** The value of a variable of the task's environment (ContainerSpec.Env), "" when unset. */
  env(name: string): string;
  /** The data of a secret the task refers to, by its target name. */
  secret(target: string): string;
  /** The data of a config the task refers to, by its target name. */
  config(target: string): string;
}

const fail = (msg: string) => invalidArgument(`template: expansion: ${msg}`);

/** Go's string literals: "…" with escapes, or `…` raw. */
function parseString(src: string): string | undefined {
  if (/^`[^`]*`$/.test(src)) return src.slice(1, -1);
  if (!/^"(?:[^"\\\n]|\\.)*"$/.test(src)) return undefined;
  try {
    return JSON.parse(src) as string;
  } catch {
    return undefined;
  }
}

function field(ctx: TemplateContext, path: string): string {
  let cur: unknown = ctx;
  const names = path.split('.').slice(1);
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    if (cur && typeof cur === 'object' && !Array.isArray(cur) && i > 0 && isMap(ctx, names.slice(0, i))) {
      // a map (Labels): a missing key prints Go's "<no value>"
      cur = (cur as Record<string, unknown>)[name] ?? '<no value>';
      continue;
    }
    if (!cur || typeof cur !== 'object' || !Object.prototype.hasOwnProperty.call(cur, name)) {
      throw fail(`can't evaluate field ${name} in ${path}`);
    }
    cur = (cur as Record<string, unknown>)[name];
  }
  if (cur && typeof cur === 'object') {
    if (isMap(ctx, names)) return `map[${Object.keys(cur).sort().map((k) => `${k}:${String((cur as Record<string, unknown>)[k])}`).join(' ')}]`;
    throw fail(`${path} is not a value`);
  }
  return String(cur);
}

const isMap = (_ctx: TemplateContext, names: string[]) => names.length === 2 && names[1] === 'Labels' && names[0] === 'Service';

/** `quote`: whether an error may show the action's text (never for a secret's template: it is secret data). */
function action(body: string, ctx: TemplateContext, fns: TemplateFunctions, quote: boolean): string {
  const a = body.trim();
  const shown = quote ? ` {{${a}}}` : '';
  if (a.startsWith('/*') && a.endsWith('*/')) return '';
  if (/^(\.[A-Za-z_][A-Za-z0-9_]*)+$/.test(a)) return field(ctx, a);
  const call = /^(env|secret|config)\s+(.+)$/s.exec(a);
  if (call) {
    const arg = parseString(call[2]!.trim());
    if (arg === undefined) throw fail(`${call[1]} takes one string argument${quote ? `: {{${a}}}` : ''}`);
    return fns[call[1] as keyof TemplateFunctions](arg);
  }
  throw fail(`unsupported action${shown}: only fields of .Service, .Node and .Task and the env, secret and config functions are supported`);
}

/**
 * Renders `src` (the secret's or config's data as text); throws InvalidArgument on what it cannot
 * render. `opts.quote` (default true) lets the error show the offending action; false for secrets,
 * whose template text must not reach a task's error, the store or a log.
 */
export function renderTemplate(src: string, ctx: TemplateContext, fns: TemplateFunctions, opts: { quote?: boolean } = {}): string {
  const quote = opts.quote ?? true;
  let out = '';
  let i = 0;
  while (i < src.length) {
    const open = src.indexOf('{{', i);
    if (open < 0) {
      out += src.slice(i);
      break;
    }
    let text = src.slice(i, open);
    let start = open + 2;
    if (src[start] === '-' && /\s/.test(src[start + 1] ?? '')) {
      text = text.replace(/\s+$/, '');
      start += 1;
    }
    out += text;
    const close = src.indexOf('}}', start);
    if (close < 0) throw fail('unclosed action');
    let end = close;
    let trimAfter = false;
    if (src[close - 1] === '-' && /\s/.test(src[close - 2] ?? '')) {
      end = close - 1;
      trimAfter = true;
    }
    out += action(src.slice(start, end), ctx, fns, quote);
    i = close + 2;
    if (trimAfter) while (i < src.length && /\s/.test(src[i]!)) i++;
  }
  return out;
}
