import assert from 'node:assert/strict';
import { test } from 'node:test';
import { renderTemplate, type TemplateContext } from './template';

const ctx: TemplateContext = {
  Service: { ID: 'svcid', Name: 'web', Labels: { tier: 'front' } },
  Node: { ID: 'nodeid', Hostname: 'h1', Platform: { Architecture: 'x86_64', OS: 'linux' } },
  Task: { ID: 'taskid', Name: 'web.2.taskid', Slot: '2' },
};
const fns = {
  env: (k: string) => ({ FOO: 'bar' })[k] ?? '',
  secret: (t: string) => {
    if (t !== 'pw') throw new Error(`secret target ${t} not found`);
    return 's3cr3t';
  },
  config: (t: string) => (t === 'c' ? 'cfg' : ''),
};
const render = (src: string) => renderTemplate(src, ctx, fns);

test('template fields of the service, node and task', () => {
  const cases: [string, string][] = [
    ['{{ .Service.Name }}', 'web'],
    ['{{.Service.ID}}', 'svcid'],
    ['{{ .Task.Name }}-{{ .Task.Slot }}-{{.Task.ID}}', 'web.2.taskid-2-taskid'],
    ['host={{ .Node.Hostname }} id={{ .Node.ID }} {{ .Node.Platform.OS }}/{{ .Node.Platform.Architecture }}', 'host=h1 id=nodeid linux/x86_64'],
    ['{{ .Service.Labels.tier }} {{ .Service.Labels.none }}', 'front <no value>'],
    ['no actions at all\n', 'no actions at all\n'],
    ['a {{/* a comment */}}b', 'a b'],
    ['a  {{- .Service.Name -}}  b', 'awebb'],
    ['{{- .Service.Name }}\n', 'web\n'],
  ];
  for (const [src, want] of cases) assert.equal(render(src), want, src);
});

test('template functions env, secret and config take one string', () => {
  assert.equal(render('{{ env "FOO" }}|{{ env "NOPE" }}'), 'bar|');
  assert.equal(render('pw={{ secret "pw" }} c={{ config `c` }}'), 'pw=s3cr3t c=cfg');
  assert.equal(render('{{ env "F\\u004fO" }}'), 'bar', 'Go string escapes');
  assert.throws(() => render('{{ secret "other" }}'), /secret target other not found/);
  assert.throws(() => render('{{ env FOO }}'), /env takes one string argument/);
});

test('unsupported syntax is refused with a clear error, never half-rendered', () => {
  for (const src of ['{{ if .Service.Name }}x{{ end }}', '{{ .Service.Name | printf "%s" }}', '{{ $x := 1 }}', '{{ range .Service.Labels }}{{ end }}', '{{ index .Service.Labels "tier" }}']) {
    assert.throws(() => render(src), /template: expansion: unsupported action/, src);
  }
  assert.throws(() => render('{{ .Service.Nope }}'), /can't evaluate field Nope/);
  assert.throws(() => render('{{ .Service }}'), /is not a value/);
  assert.throws(() => render('oops {{ .Service.Name'), /unclosed action/);
});

test("a secret's template text never shows in the error", () => {
  const secretSrc = 'pw={{ if .Service.Name }}topsecret{{ end }}';
  assert.throws(() => renderTemplate(secretSrc, ctx, fns, { quote: false }), (e: Error) => /unsupported action: only fields/.test(e.message) && !e.message.includes('.Service.Name'));
  assert.throws(() => renderTemplate('{{ env topsecret }}', ctx, fns, { quote: false }), (e: Error) => e.message === 'template: expansion: env takes one string argument');
});
