"""Helpers shared by the client scripts: connection parameters, waiting for a run, printing the observations.

The TypeScript test passes procgate's address in PROCGATE_URL, PROCGATE_HOST, PROCGATE_PORT, PROCGATE_USER,
PROCGATE_PASSWORD and PROCGATE_DATABASE. Each script prints one JSON object of what it observed; any
unexpected exception ends it with a traceback and a non-zero exit code.
"""
import json
import os
import sys
import time

URL = os.environ['PROCGATE_URL']
HOST = os.environ['PROCGATE_HOST']
PORT = int(os.environ['PROCGATE_PORT'])
USER = os.environ['PROCGATE_USER']
PASSWORD = os.environ['PROCGATE_PASSWORD']
DATABASE = os.environ['PROCGATE_DATABASE']

ENDED = ('succeeded', 'failed', 'killed')


def wait_for_run(read_state, run_id, timeout=30.0):
    """Polls read_state(run_id) (the run's state in procgate.runs) until the run has ended; returns the state."""
    deadline = time.monotonic() + timeout
    while True:
        state = read_state(run_id)
        if state in ENDED or time.monotonic() > deadline:
            return state
        time.sleep(0.05)


def emit(observed):
    """Prints what the script observed as one JSON object (dates, UUIDs and decimals as strings)."""
    json.dump(observed, sys.stdout, default=str)
    sys.stdout.write('\n')
