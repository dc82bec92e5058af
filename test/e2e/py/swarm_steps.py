"""Drives a Shoal daemon with docker-py, one step per run; prints one JSON object on stdout.

Usage: python3 swarm_steps.py SOCKET STEP [ARG]. Used by test/e2e/docker-py.test.ts, which
asserts on what is printed. Every call has a client-side timeout, so no step can hang.
"""
import copy
import json
import time

import docker
from docker.types import ServiceMode

from steps_common import ARG, STEP, api, client, error_of


def wait_until(pred, what, timeout=30.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(0.2)
    raise SystemExit('timed out waiting for ' + what)


def running_tasks(svc):
    return [t for t in svc.tasks(filters={'desired-state': 'running'}) if t['Status']['State'] == 'running']


def settled(svc):
    """Reloads the service once no rolling update is in progress (an update bumps its version)."""
    def done():
        svc.reload()
        st = svc.attrs.get('UpdateStatus') or {}
        return st.get('State') not in ('updating', 'rollback_started')
    wait_until(done, 'the update to finish', 60)
    return svc


def step_init():
    out = {'docker_py': docker.__version__, 'api_version': api.api_version}
    port = ARG or '2377'
    out['node_id'] = client.swarm.init(advertise_addr='127.0.0.1:' + port, listen_addr='127.0.0.1:' + port)
    client.swarm.reload()
    out['swarm_attrs'] = client.swarm.attrs
    out['inspect_swarm'] = api.inspect_swarm()
    out['swarm_version'] = client.swarm.version
    out['info_swarm'] = client.info()['Swarm']
    out['again'] = error_of(lambda: client.swarm.init(advertise_addr='127.0.0.1'))
    return out


def step_swarm_update():
    client.swarm.reload()
    before = client.swarm.attrs
    client.swarm.update(snapshot_interval=5000, task_history_retention_limit=3)
    client.swarm.reload()
    return {'before': before, 'after': client.swarm.attrs}


def step_nodes():
    nodes = client.nodes.list()
    me = nodes[0]
    return {
        'nodes': [n.attrs for n in nodes],
        'managers': [n.id for n in client.nodes.list(filters={'role': 'manager'})],
        'get': client.nodes.get(me.id).attrs,
        'missing': error_of(lambda: client.nodes.get('nosuchnode')),
    }


def step_create():
    svc = client.services.create(
        'busybox',
        command=['sh', '-c', 'for i in 1 2 3; do echo line-$i; done; sleep 1000'],
        name='pyweb',
        env=['GREETING=hi'],
        labels={'tier': 'front', 'Mixed.Case': 'kept'},
        mode=ServiceMode('replicated', replicas=2),
        stop_grace_period=1_000_000_000,
    )
    wait_until(lambda: len(running_tasks(svc)) == 2, '2 running tasks')
    svc.reload()
    return {'id': svc.id, 'name': svc.name, 'attrs': svc.attrs, 'tasks': svc.tasks()}


def step_list():
    return {
        'all': [s.name for s in client.services.list()],
        'by_name': [s.name for s in client.services.list(filters={'name': 'pyweb'})],
        'by_label': [s.name for s in client.services.list(filters={'label': 'tier=front'})],
        'status': [s.attrs.get('ServiceStatus') for s in client.services.list(status=True)],
        'low_level': [s['Spec']['Name'] for s in api.services()],
    }


def step_scale():
    svc = settled(client.services.get('pyweb'))
    ok = svc.scale(3)
    wait_until(lambda: len(running_tasks(svc)) == 3, '3 running tasks')
    svc.reload()
    return {'ok': ok, 'mode': svc.attrs['Spec']['Mode'], 'running': len(running_tasks(svc))}


def step_update():
    svc = settled(client.services.get('pyweb'))
    before = svc.version
    svc.update(env=['GREETING=hi', 'COLOR=blue'], labels={'tier': 'front', 'v': '2'})

    def updated():
        ts = running_tasks(svc)
        return len(ts) == 3 and all('COLOR=blue' in (t['Spec']['ContainerSpec'].get('Env') or []) for t in ts)
    wait_until(updated, 'tasks with COLOR=blue', 60)
    settled(svc)
    stale = error_of(lambda: api.update_service(svc.id, before, name='pyweb', task_template=docker.types.TaskTemplate(
        docker.types.ContainerSpec('busybox', command=['sleep', '1']))))
    return {'before': before, 'after': svc.version, 'spec': svc.attrs['Spec'], 'stale': stale}


def step_logs():
    svc = client.services.get('pyweb')
    wait_until(lambda: sum(1 for _ in svc.logs(stdout=True)) > 0, 'log lines', 20)
    plain = [b.decode() for b in svc.logs(stdout=True, stderr=True)]
    tail = [b.decode() for b in svc.logs(stdout=True, tail=1)]
    stamped = [b.decode() for b in svc.logs(stdout=True, timestamps=True, tail=1)]
    details = [b.decode() for b in svc.logs(stdout=True, details=True, tail=1)]
    # follow: the stream stays open; read until a line arrives, then let go of it.
    followed = []
    stream = svc.logs(stdout=True, follow=True, tail=1)
    for chunk in stream:
        followed.append(chunk.decode())
        break
    task_ids = [t['ID'] for t in running_tasks(svc)]
    return {'plain': plain, 'tail': tail, 'stamped': stamped, 'details': details, 'followed': followed, 'task_ids': task_ids}


def step_errors():
    return {
        'get_missing': error_of(lambda: client.services.get('nosuch')),
        'inspect_missing': error_of(lambda: api.inspect_service('nosuch')),
        'duplicate': error_of(lambda: client.services.create('busybox', name='pyweb', command=['sleep', '1'])),
        'task_missing': error_of(lambda: api.inspect_task('nosuchtask')),
        'remove_missing': error_of(lambda: api.remove_service('nosuch')),
    }


def step_force_update():
    """What models_services_test's force_update tests check: a truthy answer and a new version."""
    svc = settled(client.services.get('pyweb'))
    before = svc.version
    force_before = svc.attrs['Spec']['TaskTemplate'].get('ForceUpdate', 0)
    ok = svc.force_update()
    # The rolling update the forced one starts writes its status to the service (absent until the
    # updater starts, then updating, then completed): wait for completed before using the version.
    def completed():
        svc.reload()
        return (svc.attrs.get('UpdateStatus') or {}).get('State') == 'completed'
    wait_until(completed, 'the forced update to complete', 60)
    mid = svc.version
    # The low-level call returns the response body as is (moby's ServiceUpdateResponse).
    body = api.update_service(svc.id, mid, task_template=docker.types.TaskTemplate(
        docker.types.ContainerSpec('busybox', command=['sleep', '1000']), force_update=force_before + 7), name='pyweb',
        fetch_current_spec=True)
    svc.reload()
    return {'ok': ok, 'before': before, 'mid': mid, 'after': svc.version, 'body': body,
            'force_before': force_before, 'force_after': svc.attrs['Spec']['TaskTemplate'].get('ForceUpdate')}


def step_remove():
    svc = client.services.get('pyweb')
    ok = svc.remove()
    # Like dockerd, a service filter naming a removed service is a 404 (moby's GetTasks).
    missing = error_of(lambda: api.tasks(filters={'service': svc.id}))
    wait_until(lambda: not any(t['ServiceID'] == svc.id for t in api.tasks()), 'tasks gone', 30)
    return {
        'ok': ok,
        'tasks_filter': missing,
        'left': [s.name for s in client.services.list()],
        'get_after': error_of(lambda: client.services.get(svc.id)),
    }


def step_leave():
    ok = client.swarm.leave(force=True)
    return {'ok': ok, 'state': client.info()['Swarm']['LocalNodeState']}


def step_leave_refused():
    """api_swarm_test.test_leave_swarm, first half: the only manager may not leave without force."""
    return {'refused': error_of(lambda: api.leave_swarm()), 'state': client.info()['Swarm']['LocalNodeState']}


def step_not_in_swarm():
    """Off any swarm: leave answers 503 (docker-py's leave_swarm(force=True) then returns True), inspect 503."""
    return {
        'leave': error_of(lambda: api.leave_swarm()),
        'leave_force': api.leave_swarm(force=True),
        'inspect': error_of(lambda: api.inspect_swarm()),
        'reload': error_of(lambda: client.swarm.reload()),
    }


def step_node_update_after_init():
    """api_swarm_test.test_update_node and models_nodes_test.test_list_get_update, right after init.

    The node's version must not move between the listing and the update: nothing changes the node
    from the user's side. A few fresh swarms, as the race it guards against is a matter of timing.
    """
    port = ARG or '2377'
    rounds = []
    for _ in range(3):
        client.swarm.init(advertise_addr='127.0.0.1:' + port, listen_addr='127.0.0.1:' + port)
        node = api.nodes()[0]
        orig = copy.deepcopy(node['Spec'])
        spec = copy.deepcopy(orig)
        spec['Labels'] = {'new.label': 'new value'}
        r = {'first': error_of(lambda: api.update_node(node_id=node['ID'], version=node['Version']['Index'], node_spec=spec))}
        updated = api.inspect_node(node['ID'])
        r['updated_spec'] = updated['Spec']
        r['revert'] = error_of(lambda: api.update_node(node_id=node['ID'], version=updated['Version']['Index'], node_spec=orig))
        r['reverted_spec'] = api.inspect_node(node['ID'])['Spec']
        model = client.nodes.list()[0]
        r['model_version'] = model.version
        r['model'] = error_of(lambda: model.update({'Availability': 'active', 'Name': 'node-name', 'Role': 'manager', 'Labels': {'foo': 'bar'}}))
        model.reload()
        r['model_labels'] = model.attrs['Spec'].get('Labels')
        client.swarm.leave(force=True)
        rounds.append(r)
    return {'rounds': rounds}


STEPS = {name[5:]: fn for name, fn in globals().items() if name.startswith('step_')}
print(json.dumps(STEPS[STEP]()))
