"""What every docker-py step script shares: the client for the socket named on the command line and
how a docker-py error is reported (class, HTTP status, explanation)."""
import sys

import docker
from docker.errors import APIError, NotFound

SOCK, STEP = sys.argv[1], sys.argv[2]
ARG = sys.argv[3] if len(sys.argv) > 3 else None
client = docker.DockerClient(base_url='unix://' + SOCK, version='auto', timeout=30)
api = client.api


def error_of(fn):
    """Runs fn; returns the docker-py error class name, HTTP status and explanation."""
    try:
        fn()
    except NotFound as e:
        return {'kind': 'NotFound', 'status': e.status_code, 'explanation': str(e.explanation)}
    except APIError as e:
        return {'kind': 'APIError', 'status': e.status_code, 'explanation': str(e.explanation)}
    return {'kind': None}
