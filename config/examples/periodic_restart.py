#!/usr/bin/env python3
"""Restarts programs on a schedule: the periodic-restart pattern supervisord users build
from TICK events. Subscribe it to TICK_60 and give the period in minutes:

    [eventlistener:periodic_restart]
    command=python3 %(here)s/examples/periodic_restart.py --every 360 web worker:*
    events=TICK_60

Every N ticks it stops and starts each named process (`group:*` restarts a whole group)
through the XML-RPC API, so the restart goes through the normal stop path (stopsignal,
stopwaitsecs). A process that is not running is started."""

import argparse
import os
import sys
import xmlrpc.client

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import listener_protocol  # noqa: E402


def restart(proxy, spec):
    group_wide = spec.endswith(':*')
    stop = proxy.supervisor.stopProcessGroup if group_wide else proxy.supervisor.stopProcess
    start = proxy.supervisor.startProcessGroup if group_wide else proxy.supervisor.startProcess
    name = spec[:-2] if group_wide else spec
    try:
        stop(name)
    except xmlrpc.client.Fault as fault:
        if 'NOT_RUNNING' not in fault.faultString:
            raise
    start(name)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--every', type=int, required=True, help='ticks between restarts')
    parser.add_argument('programs', nargs='+', help='process names, or group:* for a group')
    args = parser.parse_args()
    proxy = listener_protocol.rpc()
    ticks = 0
    for headers, _payload in listener_protocol.events():
        if not headers['eventname'].startswith('TICK_'):
            continue
        ticks += 1
        if ticks % args.every:
            continue
        for spec in args.programs:
            try:
                restart(proxy, spec)
                listener_protocol.log('restarted %s' % spec)
            except (xmlrpc.client.Fault, OSError) as err:
                listener_protocol.log('could not restart %s: %s' % (spec, err))


if __name__ == '__main__':
    main()
