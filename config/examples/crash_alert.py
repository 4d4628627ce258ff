#!/usr/bin/env python3
"""Sends an alert for every crash, crash loop and FATAL, with the line of output that
explains it (from vigil's crash records):

    [eventlistener:crash_alert]
    command=python3 %(here)s/examples/crash_alert.py --command "mail -s 'vigil alert' ops@example.com"
    events=VIGIL_CRASH,VIGIL_CRASHLOOP,PROCESS_STATE_FATAL

Each alert is one line: with --command it is piped to that shell command, with --file it
is appended to that file (both may be given). VIGIL_CRASH and VIGIL_CRASHLOOP are vigil's
own events; under Python supervisord only PROCESS_STATE_FATAL arrives."""

import argparse
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import listener_protocol  # noqa: E402


def describe(eventname, payload):
    head, _, body = payload.partition('\n')
    fields = dict(token.split(':', 1) for token in head.split())
    name = '%s:%s' % (fields.get('groupname'), fields.get('processname'))
    if eventname == 'VIGIL_CRASH':
        record = json.loads(body)
        last = record['tail'].splitlines()[-1] if record['tail'] else '(no output)'
        return 'CRASH %s pid %s %s after %.1fs: %s' % (
            name, record['pid'], record['description'], record['ran_seconds'], last)
    if eventname == 'VIGIL_CRASHLOOP':
        return 'CRASH LOOP %s %s: %s' % (name, fields.get('state'), body or '-')
    return 'FATAL %s (from %s)' % (name, fields.get('from_state'))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--command', help='shell command that gets each alert on stdin')
    parser.add_argument('--file', help='file each alert is appended to')
    args = parser.parse_args()
    for headers, payload in listener_protocol.events():
        alert = describe(headers['eventname'], payload)
        listener_protocol.log(alert)
        if args.file:
            with open(args.file, 'a') as out:
                out.write(alert + '\n')
        if args.command:
            subprocess.run(args.command, shell=True, input=alert + '\n', text=True)


if __name__ == '__main__':
    main()
