"""Starting a real daphne process for tests that must see what the production process model answers."""
import contextlib
import socket
import subprocess
import sys
import time

from django.conf import settings


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def daphne(arguments, environment, port, start_seconds=60):
    """`python -m daphne *arguments` in the project folder, yielded once `port` on 127.0.0.1 accepts
    connections; terminated on exit."""
    server = subprocess.Popen([sys.executable, "-m", "daphne", *arguments], cwd=settings.BASE_DIR, env=environment,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + start_seconds
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert server.poll() is None and time.monotonic() < deadline, "daphne did not start"
                time.sleep(0.2)
        yield server
    finally:
        server.terminate()
        server.wait(timeout=10)
