"""docker-py's autolock tests against a Shoal daemon, one step per run; prints one JSON object.

Usage: python3 autolock_steps.py SOCKET STEP [ARG]. Used by test/e2e/docker-py-autolock.test.ts,
which asserts on what is printed. The steps follow docker-py 7.1.0's
tests/integration/api_swarm_test.py (test_init_swarm_with_autolock_managers,
test_rotate_manager_unlock_key); `locked` and `unlock` use the same client on a restarted manager.
"""
import json

from steps_common import ARG, STEP, api, error_of


def init_autolock():
    port = ARG or '2377'
    spec = api.create_swarm_spec(autolock_managers=True)
    return api.init_swarm('127.0.0.1:' + port, listen_addr='127.0.0.1:' + port, swarm_spec=spec)


def step_init_swarm_with_autolock_managers():
    """test_init_swarm_with_autolock_managers."""
    init_ok = init_autolock()
    unlock_key = api.get_unlock_key()
    swarm_info = api.inspect_swarm()
    return {'init': init_ok is not None, 'autolock': swarm_info['Spec']['EncryptionConfig']['AutoLockManagers'], 'unlock_key': unlock_key}


def step_rotate_manager_unlock_key():
    """test_rotate_manager_unlock_key."""
    init_autolock()
    swarm_info = api.inspect_swarm()
    key_1 = api.get_unlock_key()
    updated = api.update_swarm(version=swarm_info['Version']['Index'], rotate_manager_unlock_key=True)
    key_2 = api.get_unlock_key()
    return {'updated': updated, 'key_1': key_1, 'key_2': key_2, 'autolock': api.inspect_swarm()['Spec']['EncryptionConfig']['AutoLockManagers']}


def step_locked():
    """A restarted manager: swarm calls fail with the locked error; a wrong key and a malformed one are refused."""
    return {
        'state': api.info()['Swarm']['LocalNodeState'],
        'inspect': error_of(api.inspect_swarm),
        'wrong': error_of(lambda: api.unlock_swarm(ARG)),
        'malformed': error_of(lambda: api.unlock_swarm('SWMKEY-2-nope')),
    }


def step_unlock():
    api.unlock_swarm({'UnlockKey': ARG})
    return {'state': api.info()['Swarm']['LocalNodeState'], 'again': error_of(lambda: api.unlock_swarm(ARG))}


def step_leave():
    return {'left': api.leave_swarm(force=True)}


STEPS = {name[5:]: fn for name, fn in globals().items() if name.startswith('step_')}
print(json.dumps(STEPS[STEP]()))
