"""The two things every vigil/supervisord event listener needs, without the supervisor
package: the READY / RESULT protocol on stdin/stdout, and an XML-RPC proxy for the
SUPERVISOR_SERVER_URL the daemon gives its children (http:// or unix://)."""

import http.client
import os
import socket
import sys
import xmlrpc.client


def events():
    """Yields (headers, payload) for each event, answering OK once the caller is done."""
    while True:
        sys.stdout.write('READY\n')
        sys.stdout.flush()
        line = sys.stdin.readline()
        if not line:
            return
        headers = dict(token.split(':', 1) for token in line.split())
        # supervisord counts the payload in characters; so does text-mode read().
        payload = sys.stdin.read(int(headers['len']))
        yield headers, payload
        sys.stdout.write('RESULT 2\nOK')
        sys.stdout.flush()


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__('localhost')
        self.path_to_socket = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path_to_socket)


class _UnixTransport(xmlrpc.client.Transport):
    def __init__(self, path):
        super().__init__()
        self.path_to_socket = path

    def make_connection(self, host):
        return _UnixConnection(self.path_to_socket)


def rpc():
    """A proxy for the daemon that started this listener."""
    url = os.environ['SUPERVISOR_SERVER_URL']
    if url.startswith('unix://'):
        return xmlrpc.client.ServerProxy(
            'http://localhost/RPC2', transport=_UnixTransport(url[len('unix://'):]))
    return xmlrpc.client.ServerProxy(url.rstrip('/') + '/RPC2')


def log(message):
    """A line in the listener's stderr log (stdout is the protocol channel)."""
    sys.stderr.write(message + '\n')
    sys.stderr.flush()
