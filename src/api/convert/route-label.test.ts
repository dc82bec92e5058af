import assert from 'node:assert/strict';
import { test } from 'node:test';
import { routeLabel } from './route-label';

test('route labels are the route patterns, never raw paths', () => {
  assert.equal(routeLabel(/^\/services\/([^/]+)\/update$/), '/services/{id}/update');
  assert.equal(routeLabel(/^\/services$/), '/services');
  assert.equal(routeLabel(/^\/networks\/?$/), '/networks');
  assert.equal(routeLabel(/^\/distribution\/(.+)\/json$/), '/distribution/{name}/json');
  assert.equal(routeLabel(/^\/(secrets|configs)$/), '/{secrets|configs}');
  assert.equal(routeLabel(/^\/(secrets|configs)(\/.*)?$/), '/{secrets|configs}{/rest}');
  assert.equal(routeLabel(/^\/_ping$/), '/_ping');
});
