"""`transformers serve` on a Unix socket: the model server behind the API-key proxy, reachable by nothing else.

    python -m fmops.serving.unix_socket_server SOCKET_PATH MODEL_DIR

On a loopback port, any local process could skip the proxy's key check; a socket file in a directory only
this user can enter cannot be reached around it. `transformers serve` takes no socket option, but its command
class serves on a socket given to `run`, which it calls once constructed: a subclass passes this one.
"""

from __future__ import annotations

import os
import socket
import sys


def bind(path: str) -> socket.socket:
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    os.chmod(path, 0o600)
    return listener


def main(path: str, model: str) -> None:
    from transformers.cli.serve import Serve

    listener = bind(path)

    class ServeOnSocket(Serve):
        def run(self, socket=None, engine_connection=None) -> None:  # noqa: A002 - transformers' parameter name
            super().run(socket=listener, engine_connection=engine_connection)

    ServeOnSocket(force_model=model)


if __name__ == "__main__":
    main(*sys.argv[1:3])
