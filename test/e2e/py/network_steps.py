"""docker-py's network tests, our own steps: drives a Shoal daemon, one step per run; prints JSON.

Usage: python3 network_steps.py SOCKET STEP [ARG]. Used by test/e2e/docker-py-networks.test.ts,
which asserts on what is printed. The steps follow docker-py 7.1.0's tests/integration
(api_network_test: attachable, ingress, inspect with scope; api_service_test: custom networks,
network_attachment_config, updates that keep or change the networks). Every call has a timeout.
"""
import json
import time

import docker

from steps_common import ARG, STEP, api, client, error_of


def current(svc_id):
    """The service once the allocator's writes after a create or update have landed (its version
    stops moving): an update sent with an older version is refused as out of sequence, by Docker too."""
    last = api.inspect_service(svc_id)
    deadline = time.time() + 20
    while time.time() < deadline:
        time.sleep(0.3)
        now = api.inspect_service(svc_id)
        if now['Version']['Index'] == last['Version']['Index']:
            return now
        last = now
    raise SystemExit('the service version kept moving')


def step_init():
    port = ARG or '2377'
    return {'node_id': client.swarm.init(advertise_addr='127.0.0.1:' + port, listen_addr='127.0.0.1:' + port)}


def step_attachable():
    net_id = api.create_network('dockerpytest_att', driver='overlay', attachable=True)['Id']
    net = api.inspect_network(net_id)
    api.remove_network(net_id)
    return {'attachable': net['Attachable'], 'driver': net['Driver'], 'scope': net['Scope']}


def step_ingress():
    api.remove_network('ingress')
    gone = error_of(lambda: api.inspect_network('ingress'))
    net_id = api.create_network('dockerpytest_ingress', driver='overlay', ingress=True)['Id']
    net = api.inspect_network(net_id)
    again = error_of(lambda: api.create_network('dockerpytest_ingress2', driver='overlay', ingress=True))
    return {'gone': gone, 'ingress': net['Ingress'], 'name': net['Name'], 'again': again}


def step_scope():
    loc_id = api.create_network('dockerpytest_loc', scope='local')['Id']
    out = {
        'local_plain': api.inspect_network('dockerpytest_loc')['Id'] == loc_id,
        'local_local': api.inspect_network('dockerpytest_loc', scope='local')['Scope'],
        'local_global': error_of(lambda: api.inspect_network('dockerpytest_loc', scope='global')),
    }
    sw_id = api.create_network('dockerpytest_sw', driver='overlay', scope='swarm')['Id']
    out['swarm_plain'] = api.inspect_network('dockerpytest_sw')['Id'] == sw_id
    out['swarm_swarm'] = api.inspect_network('dockerpytest_sw', scope='swarm')['Scope']
    out['swarm_local'] = error_of(lambda: api.inspect_network('dockerpytest_sw', scope='local'))
    api.remove_network(loc_id)
    api.remove_network(sw_id)
    return out


def step_custom_networks():
    net1 = api.create_network('dockerpytest_1', driver='overlay', ipam={'Driver': 'default'})
    net2 = api.create_network('dockerpytest_2', driver='overlay', ipam={'Driver': 'default'})
    spec = docker.types.ContainerSpec('busybox', ['true'])
    tmpl = docker.types.TaskTemplate(spec, networks=['dockerpytest_1', {'Target': 'dockerpytest_2'}])
    svc_id = api.create_service(tmpl, name='pynets')['ID']
    created = current(svc_id)
    v = created['Version']['Index']
    # docker-py's test_update_service_with_defaults_networks: an update that fetches the current spec keeps them.
    api.update_service(svc_id, v, name='pynets', labels={'force': 'update'}, fetch_current_spec=True)
    kept = current(svc_id)
    api.update_service(svc_id, kept['Version']['Index'], docker.types.TaskTemplate(spec, networks=[net1['Id']]), name='pynets', fetch_current_spec=True)
    narrowed = current(svc_id)
    # test_update_service_with_network_change: switch to the other network.
    api.update_service(svc_id, narrowed['Version']['Index'], docker.types.TaskTemplate(spec, networks=[net2['Id']]), name='pynets', fetch_current_spec=True)
    switched = current(svc_id)
    api.remove_service(svc_id)
    return {
        'net1': net1['Id'], 'net2': net2['Id'],
        'created': created['Spec']['TaskTemplate'].get('Networks'),
        'kept': kept['Spec']['TaskTemplate'].get('Networks'),
        'kept_version_moved': kept['Version']['Index'] > v,
        'narrowed': narrowed['Spec']['TaskTemplate'].get('Networks'),
        'switched': switched['Spec']['TaskTemplate'].get('Networks'),
        'switched_command': switched['Spec']['TaskTemplate']['ContainerSpec'].get('Command'),
    }


def step_attachment_config():
    net = api.create_network('dockerpytest_ac', driver='overlay', ipam={'Driver': 'default'})
    cfg = docker.types.NetworkAttachmentConfig(target='dockerpytest_ac', aliases=['dockerpytest_1_alias'], options={'foo': 'bar'})
    tmpl = docker.types.TaskTemplate(docker.types.ContainerSpec('busybox', ['true']), networks=[cfg])
    svc_id = api.create_service(tmpl, name='pyattach')['ID']
    info = api.inspect_service(svc_id)
    api.remove_service(svc_id)
    return {'net': net['Id'], 'networks': info['Spec']['TaskTemplate'].get('Networks')}


def step_cleanup():
    removed = []
    for n in api.networks(names=['dockerpytest_1', 'dockerpytest_2', 'dockerpytest_ac']):
        if n.get('Scope') == 'swarm':
            api.remove_network(n['Id'])
            removed.append(n['Name'])
    return {'removed': sorted(removed)}


STEPS = {name[5:]: fn for name, fn in globals().items() if name.startswith('step_')}

if __name__ == '__main__':
    print(json.dumps(STEPS[STEP]()))
