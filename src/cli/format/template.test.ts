import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatInspect, formatList, renderTemplate, TemplateError } from './template';

const rows = [
  { ID: 'abc', Name: 'front', Driver: 'overlay', Label: (k: string) => (k === 'env' ? 'dev' : '') },
  { ID: 'defghijk', Name: 'b', Driver: '', Label: () => '' },
];
const header = { ID: 'NETWORK ID', Name: 'NAME', Driver: 'DRIVER' };

test('fields, nested fields, method calls with a string argument, json, upper/lower/join', () => {
  const dot = { Name: 'web', Spec: { Labels: { a: '1' }, Ports: [80, 443] }, Label: (k: string) => `<${k}>` };
  assert.equal(renderTemplate('{{.Name}} {{ .Spec.Labels.a }}', dot), 'web 1');
  assert.equal(renderTemplate('{{.Label "env"}}', dot), '<env>');
  assert.equal(renderTemplate('{{json .Spec.Labels}}|{{json .Spec.Ports}}', dot), '{"a":"1"}|[80,443]');
  assert.equal(renderTemplate('{{upper .Name}} {{lower "ABC"}} {{join .Spec.Ports ","}}', dot), 'WEB abc 80,443');
  // Go's %v of maps and lists.
  assert.equal(renderTemplate('{{.Spec.Labels}} {{.Spec.Ports}}', dot), 'map[a:1] [80 443]');
});

test('{{- and -}} trim the text beside them', () => {
  assert.equal(renderTemplate('a   {{- .X -}}   b', { X: 'x' }), 'axb');
});

test('errors are TemplateErrors with Go-like texts', () => {
  assert.throws(() => renderTemplate('{{.Nope}}', { A: 1 }), (e: unknown) => e instanceof TemplateError && /can't evaluate field Nope/.test(e.message));
  assert.throws(() => renderTemplate('{{frob .A}}', { A: 1 }), /function "frob" not defined/);
  assert.throws(() => renderTemplate('{{.A', { A: 1 }), /unclosed action/);
});

test('table format: header from the header map, tabwriter columns, last column unpadded', () => {
  assert.equal(formatList('table {{.ID}}\\t{{.Name}}\\t{{.Driver}}', rows, header), 'NETWORK ID   NAME      DRIVER\nabc          front     overlay\ndefghijk     b         \n');
  assert.equal(formatList('table {{.Label "com.example.team_name"}}\\t{{.Name}}', rows, header), 'team name   NAME\n            front\n            b\n');
});

test('plain format: one line per row, \\t escapes become tabs; json rows have sorted plain fields', () => {
  assert.equal(formatList('{{.Name}}\\t{{.Label "env"}}', rows, header), 'front\tdev\nb\t\n');
  assert.equal(formatList('json', rows, header), '{"Driver":"overlay","ID":"abc","Name":"front"}\n{"Driver":"","ID":"defghijk","Name":"b"}\n');
  assert.equal(formatList('{{json .}}', rows.slice(0, 1), header), '{"Driver":"overlay","ID":"abc","Name":"front"}\n');
});

test('inspect format: once per object', () => {
  assert.equal(formatInspect('{{.Name}}', [{ Name: 'a' }, { Name: 'b' }]), 'a\nb\n');
});

test('if/else if/else/end with Go truth (false, 0, "", empty lists and maps are false)', () => {
  const f = '{{.ID}} {{if .Self}}*{{else}} {{ end }}|';
  assert.equal(renderTemplate(f, { ID: 'a', Self: true }), 'a *|');
  assert.equal(renderTemplate(f, { ID: 'a', Self: false }), 'a  |');
  assert.equal(renderTemplate('{{if .A}}a{{else if .B}}b{{else}}c{{end}}', { A: '', B: [1] }), 'b');
  assert.equal(renderTemplate('{{if .A}}a{{else if .B}}b{{else}}c{{end}}', { A: 0, B: {} }), 'c');
  assert.equal(renderTemplate('{{if .A}}{{if .B}}ab{{end}}{{end}}.', { A: 1, B: 1 }), 'ab.');
  assert.throws(() => renderTemplate('{{if .A}}x', { A: 1 }), /unexpected EOF/);
  assert.throws(() => renderTemplate('x{{end}}', {}), /unexpected \{\{end\}\}/);
  // Go's json.Marshal escapes <, > and & (as in `--format json` of a PORTS column).
  assert.equal(formatList('json', [{ Ports: '*:80->80/tcp' }], {}), '{"Ports":"*:80-\\u003e80/tcp"}\n');
});

test('json: maps (keys not all upper case) print with sorted keys, structs in field order', () => {
  assert.equal(renderTemplate('{{json .L}} {{json .S}}', { L: { zone: 'eu', ssd: '' }, S: { Name: 'a', ID: 'b' } }), '{"ssd":"","zone":"eu"} {"Name":"a","ID":"b"}');
});
