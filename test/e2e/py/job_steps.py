"""docker-py's job-mode service tests, our own steps: drives a Shoal daemon, one step per run; prints JSON.

Usage: python3 job_steps.py SOCKET STEP [ARG]. Used by test/e2e/docker-py-jobs.test.ts, which asserts
on what is printed. The steps follow docker-py 7.1.0's tests/integration/api_service_test.py
(test_create_service_replicated_job_mode, test_create_service_global_job_mode) and then wait, bounded,
for the job to finish. Every call has a timeout.
"""
import json
import time

import docker

from steps_common import ARG, STEP, api, client


def step_init():
    port = ARG or '2377'
    return {'node_id': client.swarm.init(advertise_addr='127.0.0.1:' + port, listen_addr='127.0.0.1:' + port)}


def wait_tasks(svc_id, done, seconds=30):
    deadline = time.time() + seconds
    tasks = []
    while time.time() < deadline:
        tasks = api.tasks(filters={'service': svc_id})
        if done(tasks):
            break
        time.sleep(0.2)
    return tasks


def finished(svc_id, expected):
    tasks = wait_tasks(svc_id, lambda ts: sum(1 for t in ts if t['Status']['State'] == 'complete') >= expected)
    status = [s for s in api.services(filters={'id': svc_id}, status=True) if s['ID'] == svc_id][0]
    return {
        'states': sorted(t['Status']['State'] for t in tasks),
        'desired': sorted(set(t['DesiredState'] for t in tasks)),
        'iterations': sorted(set(t.get('JobIteration', {}).get('Index', 0) for t in tasks)),
        'service_status': status.get('ServiceStatus'),
    }


def step_replicated_job():
    container_spec = docker.types.ContainerSpec('busybox', ['true'])
    task_tmpl = docker.types.TaskTemplate(container_spec)
    svc_id = api.create_service(task_tmpl, name='dockerpytest_rjob', mode=docker.types.ServiceMode('replicated-job', 5))['ID']
    svc_info = api.inspect_service(svc_id)
    return {'spec_mode': svc_info['Spec']['Mode'], 'job_status': svc_info.get('JobStatus'), **finished(svc_id, 5)}


def step_global_job():
    container_spec = docker.types.ContainerSpec('busybox', ['true'])
    task_tmpl = docker.types.TaskTemplate(container_spec)
    svc_id = api.create_service(task_tmpl, name='dockerpytest_gjob', mode=docker.types.ServiceMode('global-job'))['ID']
    svc_info = api.inspect_service(svc_id)
    return {'spec_mode': svc_info['Spec']['Mode'], 'job_status': svc_info.get('JobStatus'), **finished(svc_id, 1)}


print(json.dumps(globals()['step_' + STEP]()))
