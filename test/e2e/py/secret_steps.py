"""docker-py's secret and config tests, our own steps: drives a Shoal daemon (docker runtime), one
step per run; prints JSON.

Usage: python3 secret_steps.py SOCKET STEP [ARG]. Used by test/e2e/docker-py-secrets.test.ts, which
asserts on what is printed. The steps follow docker-py 7.1.0's tests/integration: api_secret_test
and api_config_test (create, unicode data, inspect, remove, list) and api_service_test's
test_create_service_with_secret / _with_unicode_secret / _with_config / _with_unicode_config (the
file read back with exec, as docker-py does). Every wait is bounded.
"""
import json
import os
import time

import docker

from steps_common import ARG, STEP, api, client, error_of

IMAGE = os.environ.get('SHOAL_TEST_IMAGE') or 'shoal-busybox:test'


def step_init():
    port = ARG or '2377'
    return {'node_id': client.swarm.init(advertise_addr='127.0.0.1:' + port, listen_addr='127.0.0.1:' + port)}


def objects(kind):
    """create / create unicode / inspect / remove / list, as api_{secret,config}_test.py do them."""
    create = getattr(api, 'create_' + kind)
    inspect = getattr(api, 'inspect_' + kind)
    remove = getattr(api, 'remove_' + kind)
    listing = getattr(api, kind + 's')
    out = {}
    obj_id = create('favorite_character', 'sakuya izayoi')
    data = inspect(obj_id)
    out['created'] = {'has_id': 'ID' in obj_id, 'name': data['Spec']['Name'], 'has_version': 'Version' in data,
                      'same_id': data['ID'] == obj_id['ID'], 'data': data['Spec'].get('Data')}
    # docker-py's list test filters by `names` for secrets, `name` for configs
    flt = {'names': ['favorite_character']} if kind == 'secret' else {'name': ['favorite_character']}
    found = listing(filters=flt)
    out['listed'] = [x['ID'] == obj_id['ID'] for x in found]
    out['removed'] = remove(obj_id)
    out['gone'] = error_of(lambda: inspect(obj_id))
    uni = create('favorite_character', u'いざよいさくや')
    out['unicode'] = {'has_id': 'ID' in uni, 'name': inspect(uni)['Spec']['Name'], 'data': inspect(uni)['Spec'].get('Data')}
    remove(uni)
    return out


def step_secret_api():
    return objects('secret')


def step_config_api():
    return objects('config')


def service_container(name):
    """docker-py's get_service_container: the service's container, looked for by name (bounded)."""
    for _ in range(120):
        found = api.containers(filters={'name': [name]}, quiet=True)
        if found:
            return found[0]
        time.sleep(0.5)
    return None


def step_service_with():
    """ARG: secret | unicode_secret | config | unicode_config."""
    kind = 'config' if ARG.endswith('config') else 'secret'
    data = u'東方花映塚' if ARG.startswith('unicode') else b'phantasmagoria of flower view'
    name = 'favorite_touhou'
    obj_id = getattr(api, 'create_' + kind)(name, data)
    if kind == 'secret':
        ref = docker.types.SecretReference(obj_id, name)
        spec = docker.types.ContainerSpec(IMAGE, ['sleep', '999'], secrets=[ref])
        path = '/run/secrets/' + name
    else:
        ref = docker.types.ConfigReference(obj_id, name)
        spec = docker.types.ContainerSpec(IMAGE, ['sleep', '999'], configs=[ref])
        path = '/' + name
    svc_name = 'dockerpytest_' + ARG
    svc_id = api.create_service(docker.types.TaskTemplate(spec), name=svc_name)
    info = api.inspect_service(svc_id)
    refs = info['Spec']['TaskTemplate']['ContainerSpec'].get('Secrets' if kind == 'secret' else 'Configs')
    container = service_container(svc_name)
    content = None
    if container is not None:
        exec_id = api.exec_create(container, 'cat ' + path)
        content = api.exec_start(exec_id).decode('utf-8')
    api.remove_service(svc_id)
    want = data.decode('utf-8') if isinstance(data, bytes) else data
    return {'ref_equal': refs[0] == ref, 'ref': refs[0], 'container': container is not None, 'content_equal': content == want, 'content': content}


def step_cleanup():
    """Removes the step's secret/config once its service's tasks are gone (rm is refused before)."""
    out = {}
    for kind in ('secret', 'config'):
        for o in getattr(api, kind + 's')(filters={'names': ['favorite_touhou']}):
            out[kind] = error_of(lambda: getattr(api, 'remove_' + kind)(o['ID']))
    return out


STEPS = {name[5:]: fn for name, fn in globals().items() if name.startswith('step_')}

if __name__ == '__main__':
    print(json.dumps(STEPS[STEP]()))
