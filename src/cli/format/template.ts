// The docker CLI's `--format` for list and inspect commands, in the subset the shoal CLI supports:
// `table` prefix (a tabwriter table with a header row), `json` (one JSON object a line), `\t`/`\n`
// escapes, and actions `{{.Field}}`, `{{.A.B}}`, `{{json .}}`, `{{json .Field}}`, `{{.Label "k"}}`,
// `{{upper .X}}`, `{{lower .X}}`, `{{join .X ","}}`, `{{if .X}}…{{else}}…{{end}}`, with `{{-`/`-}}` trimming.
import { formatTable } from './table';

export class TemplateError extends Error {}

/** A row's fields: strings, or functions taking the action's string arguments (`Label "k"`). */
export type RowContext = Record<string, unknown>;

type Piece = { text: string } | { action: string };

/** A parsed template: text, actions, and `if` blocks (`{{if X}}…{{else if Y}}…{{else}}…{{end}}`). */
type Node = { text: string } | { action: string } | { cond: string; then: Node[]; else: Node[] };

function lex(tmpl: string): Piece[] {
  const out: Piece[] = [];
  let i = 0;
  while (i < tmpl.length) {
    const open = tmpl.indexOf('{{', i);
    if (open < 0) {
      out.push({ text: tmpl.slice(i) });
      break;
    }
    let text = tmpl.slice(i, open);
    let start = open + 2;
    if (tmpl[start] === '-' && /\s/.test(tmpl[start + 1] ?? '')) {
      text = text.replace(/\s+$/, '');
      start++;
    }
    const close = tmpl.indexOf('}}', start);
    if (close < 0) throw new TemplateError(`template parsing error: template: :1: unclosed action`);
    let end = close;
    let trimNext = false;
    if (tmpl[close - 1] === '-' && /\s/.test(tmpl[close - 2] ?? '')) {
      end = close - 1;
      trimNext = true;
    }
    if (text) out.push({ text });
    out.push({ action: tmpl.slice(start, end).trim() });
    i = close + 2;
    if (trimNext) while (i < tmpl.length && /\s/.test(tmpl[i]!)) i++;
  }
  return out;
}

/** Builds the tree; `stop` says which keyword ended the list (`end`, `else`, `else if X`) or undefined at the end. */
function parseList(pieces: Piece[], pos: { i: number }, nested: boolean): { nodes: Node[]; stop?: string } {
  const nodes: Node[] = [];
  while (pos.i < pieces.length) {
    const p = pieces[pos.i++]!;
    if ('text' in p) {
      nodes.push(p);
      continue;
    }
    const a = p.action;
    if (a === 'end' || a === 'else' || a.startsWith('else if ')) {
      if (!nested) throw new TemplateError(`template parsing error: template: :1: unexpected {{${a.split(' ')[0]}}}`);
      return { nodes, stop: a };
    }
    if (a.startsWith('if ')) nodes.push(parseIf(a.slice(3).trim(), pieces, pos));
    else nodes.push(p);
  }
  if (nested) throw new TemplateError('template parsing error: template: :1: unexpected EOF');
  return { nodes };
}

function parseIf(cond: string, pieces: Piece[], pos: { i: number }): Node {
  const body = parseList(pieces, pos, true);
  if (body.stop === 'end') return { cond, then: body.nodes, else: [] };
  if (body.stop === 'else') {
    const rest = parseList(pieces, pos, true);
    if (rest.stop !== 'end') throw new TemplateError('template parsing error: template: :1: expected end; found else');
    return { cond, then: body.nodes, else: rest.nodes };
  }
  // `else if Y` is an `if` nested in the else branch that shares this block's `end`.
  return { cond, then: body.nodes, else: [parseIf(body.stop!.slice('else if '.length).trim(), pieces, pos)] };
}

function parse(tmpl: string): Node[] {
  return parseList(lex(tmpl), { i: 0 }, false).nodes;
}

/** Splits an action into words, keeping "quoted strings" whole (quotes removed). */
function words(action: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  let m;
  while ((m = re.exec(action))) out.push(m[1] !== undefined ? JSON.parse(`"${m[1]}"`) : m[2]!);
  return out;
}

function field(dot: unknown, path: string, args: string[]): unknown {
  if (path === '.') return dot;
  let v: unknown = dot;
  const names = path.slice(1).split('.');
  names.forEach((name, idx) => {
    if (v === null || typeof v !== 'object' || !(name in (v as object))) throw new TemplateError(`template: :1:${idx + 3}: executing "" at <${path}>: can't evaluate field ${name}`);
    v = (v as Record<string, unknown>)[name];
    if (typeof v === 'function') v = (v as (...a: string[]) => unknown)(...(idx === names.length - 1 ? args : []));
  });
  return v;
}

/** Go's fmt %v of a value a template prints: maps as map[k:v], lists as [a b], nil as <no value>. */
function show(v: unknown): string {
  if (v === undefined) return '<no value>';
  if (v === null) return '<nil>';
  if (Array.isArray(v)) return `[${v.map(show).join(' ')}]`;
  if (typeof v === 'object') {
    const e = Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `map[${e.map(([k, x]) => `${k}:${show(x)}`).join(' ')}]`;
  }
  return String(v);
}

/**
 * Go's json.Marshal: a map's keys sorted, a struct's fields in order, and <, >, & and the JS line
 * separators escaped as \u00XX (HTML-safe). Decoded JSON does not say which objects were maps: an
 * object whose keys all start upper case is taken for a struct (Go's exported fields), any other for
 * a map (labels, options).
 */
export function goJson(v: unknown): string {
  const sortMaps = (_k: string, x: unknown): unknown => {
    if (x === null || typeof x !== 'object' || Array.isArray(x)) return x;
    const keys = Object.keys(x);
    if (keys.every((k) => /^[A-Z]/.test(k))) return x;
    return Object.fromEntries(keys.sort().map((k) => [k, (x as Record<string, unknown>)[k]]));
  };
  return JSON.stringify(v, sortMaps).replace(/[<>&\u2028\u2029]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}

/** Go template truth: false, 0, "", nil and empty lists/maps are false. */
function truthy(v: unknown): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v).length > 0;
  return true;
}

function evalValue(action: string, dot: unknown): unknown {
  const [head, ...rest] = words(action);
  if (head?.startsWith('.') && !rest.length) return field(dot, head, []);
  if (head?.startsWith('.')) return field(dot, head, rest);
  return evalAction(action, dot);
}

function evalAction(action: string, dot: unknown): string {
  const w = words(action);
  const [head, ...rest] = w;
  if (!head) throw new TemplateError('template parsing error: template: :1: missing value for command');
  if (head.startsWith('.')) return show(field(dot, head, rest));
  const arg = (n: number) => {
    const a = rest[n];
    if (a === undefined) throw new TemplateError(`template: :1: wrong number of args for ${head}`);
    return a.startsWith('.') ? field(dot, a, []) : a;
  };
  switch (head) {
    case 'json':
      return goJson(arg(0) ?? null);
    case 'upper':
      return show(arg(0)).toUpperCase();
    case 'lower':
      return show(arg(0)).toLowerCase();
    case 'join': {
      const list = arg(0);
      return Array.isArray(list) ? list.map(show).join(String(arg(1))) : show(list);
    }
    default:
      throw new TemplateError(`template parsing error: template: :1: function "${head}" not defined`);
  }
}

/** Executes a template against one value. */
export function renderTemplate(tmpl: string, dot: unknown): string {
  return renderNodes(parse(tmpl), dot);
}

function renderNodes(nodes: readonly Node[], dot: unknown): string {
  return nodes
    .map((n) => {
      if ('text' in n) return n.text;
      if ('action' in n) return evalAction(n.action, dot);
      return renderNodes(truthy(evalValue(n.cond, dot)) ? n.then : n.else, dot);
    })
    .join('');
}

/** The docker formatter's pre-processing: trim spaces, then `\t` and `\n` written as two characters become real ones. */
const unescape = (f: string): string => f.trim().replace(/\\t/g, '\t').replace(/\\n/g, '\n');

/** A row's JSON (`--format json`, `{{json .}}`): every plain field, keys sorted as Go sorts a map. */
export function rowJson(row: RowContext): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (const k of Object.keys(row).sort()) if (typeof row[k] !== 'function') o[k] = row[k];
  return o;
}

/** The header of a `{{.Label "com.example.some-key"}}` column: the key's last dot part, `-`/`_` as spaces. */
const labelHeader = (name: string): string => (name.split('.').at(-1) ?? '').replace(/[-_]/g, ' ');

/**
 * Renders a list the way `docker <noun> ls --format` does. `format` is the user's, or the
 * command's default `table …` format; `header` maps field names to column titles.
 */
export function formatList(format: string, rows: readonly RowContext[], header: Record<string, string>): string {
  if (format === 'json') return rows.map((r) => goJson(rowJson(r)) + '\n').join('');
  const f = unescape(format);
  // `{{json .}}` on a row prints its plain fields with sorted keys, as Go marshals the row's map.
  const withJson = (r: RowContext): RowContext => ({ ...r, toJSON: () => rowJson(r) });
  if (f.startsWith('table')) {
    const body = f.slice('table'.length).trim();
    const headerRow = renderTemplate(body, { ...header, Label: labelHeader }).split('\t');
    const lines = rows.map((r) => renderTemplate(body, withJson(r)));
    const table = lines.map((l) => l.split('\t'));
    // tabwriter pads every cell of a line but the last; a row's width is the header's column count.
    return formatTable(headerRow, table);
  }
  return rows.map((r) => renderTemplate(f, withJson(r)) + '\n').join('');
}

/** `inspect --format`: the template once per object, a newline after each. */
export function formatInspect(format: string, objects: readonly unknown[]): string {
  const f = unescape(format);
  return objects.map((o) => renderTemplate(f, o) + '\n').join('');
}
