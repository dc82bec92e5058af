import { test } from 'node:test';
import assert from 'node:assert/strict';
import { composeValidator } from '../commands/stack';
import { parseCompose } from './document';

const check = (text: string, file = 'stack.yml') => composeValidator()(parseCompose(file, text));
const fails = (text: string, want: string) => assert.throws(() => check(text), (e: Error) => {
  assert.equal(e.message, want);
  return true;
});

test('a valid file passes (the seed 004 shape, long and short syntaxes)', () => {
  check(['services:', '  web:', '    image: x', '    ports: ["80:80", {target: 81, published: 8081}]', '    deploy: {replicas: 2, resources: {limits: {cpus: "0.5", memory: 1G}}}', 'volumes:', '  data: {}'].join('\n'));
});

test('schema errors name the file, the line and the key', () => {
  fails(['services:', '  web:', '    image: x', '    deploy:', '      replicas: two'].join('\n'), 'stack.yml:5: services.web.deploy.replicas: must be an integer, not "two"');
  fails(['services:', '  web:', '    image: x', '    deploy:', '      replica: 2'].join('\n'), 'stack.yml:5: services.web.deploy.replica: additional property replica is not allowed');
  fails(['version: "3"', 'services:', '  web:', '    image: x', '    restart_policy: always'].join('\n'), 'stack.yml:5: services.web.restart_policy: additional property restart_policy is not allowed');
  fails(['services:', '  web:', '    image: x', '    deploy:', '      restart_policy:', '        condition: sometimes'].join('\n'), 'stack.yml:6: services.web.deploy.restart_policy.condition: must be one of: none, on-failure, any');
  fails(['services:', '  web:', '    image: x', '    depends_on:', '      db:', '        condition: service_ready'].join('\n'), 'stack.yml:6: services.web.depends_on.db.condition: must be one of: service_started, service_healthy, service_completed_successfully');
  fails('servics:\n  web: {image: x}\n', 'stack.yml:1: servics: additional property servics is not allowed');
});

test('YAML errors name the file and line', () => {
  assert.throws(() => parseCompose('f.yml', 'services:\n  web:\n    image: [x\n'), /^Error: f\.yml:4: yaml: Flow sequence/);
  assert.throws(() => parseCompose('f.yml', 'services:\n  web:\n    image: x\n  image: y\n    bad: 1\n'), /^Error: f\.yml:4: yaml: Nested mappings/);
  assert.throws(() => parseCompose('f.yml', 'services: {}\nservices: {}\n'), /^Error: f\.yml:2: yaml: Map keys must be unique/);
  assert.throws(() => parseCompose('f.yml', '- a\n'), /^Error: f\.yml:1: top-level object must be a mapping$/);
});
