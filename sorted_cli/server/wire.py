"""The messages a `sorted` client and a server worker exchange over the Unix socket.

1. The client connects and sends a request: a length, then NUL-separated fields (what it asks
   for, the code identity it sees, its umask, which standard streams the shell closed, which
   stop signals it ignores, its arguments, its environment).
2. The worker answers ACCEPTED with its process id, or REFUSED with a reason.
3. Only then does the client commit, with GO, which carries four descriptors: stdin, stdout,
   stderr and the working directory. A client that gave up waiting for the answer closes the
   connection instead, and the worker drops the request unrun: a command is run by the server
   or by the client, never by both. (Descriptors sent with the request would be held in the
   socket's queue until a busy worker got to it: a pipe to `| cat` would not close when the
   command, run in the client's own process meanwhile, was done.)
4. While the command runs, the client forwards the signals it gets (SIGNAL); the worker ends
   with EXIT and the command's exit code. A connection that closes before EXIT is a worker that
   died: the client cannot know how far the command got.

Only the standard library here (the client imports it).
"""

from __future__ import annotations

import os
import struct
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    import socket
else:
    import _socket as socket  # the client's import: no enums, no selectors (see `client`)

PROTOCOL = "sorted-1"
RUN, STATUS, STOP = "run", "status", "stop"
ACCEPTED, REFUSED, GO, SIGNAL, EXIT, ANSWER = b"A", b"R", b"G", b"S", b"X", b"T"
DESCRIPTORS = 4  # stdin, stdout, stderr, the working directory
_LENGTH = struct.Struct(">I")
_CODE = struct.Struct(">i")
_LARGEST_REQUEST = 1 << 22  # an environment is a few kB; anything near this is not a client


class Broken(Exception):
    """The other side went away or sent what no sorted sends."""


class Request:
    """What a client asks for (no dataclass: `dataclasses` imports `inspect`, 5 ms)."""

    def __init__(
        self,
        kind: str,
        identity: str,
        *,
        umask: int = 0o022,
        closed: list[str] | None = None,
        ignored: list[int] | None = None,
        argv: list[bytes] | None = None,
        environ: dict[bytes, bytes] | None = None,
    ) -> None:
        self.kind = kind
        self.identity = identity
        self.umask = umask
        self.closed = closed or []  # names of the streams the shell closed
        self.ignored = ignored or []  # stop signals the client ignores
        self.argv = argv or []  # the arguments after the program's name
        self.environ = environ or {}

    def encode(self) -> bytes:
        fields = [
            PROTOCOL.encode(),
            self.kind.encode(),
            self.identity.encode(),
            f"{self.umask:o}".encode(),
            ",".join(self.closed).encode(),
            ",".join(map(str, self.ignored)).encode(),
            str(len(self.argv)).encode(),
            *self.argv,
            *(name + b"=" + value for name, value in self.environ.items()),
        ]
        payload = b"\0".join(fields)
        return _LENGTH.pack(len(payload)) + payload

    @classmethod
    def decode(cls, payload: bytes) -> Request:
        fields = payload.split(b"\0")
        try:
            protocol, kind, identity, umask, closed, ignored, count = fields[:7]
            if protocol.decode() != PROTOCOL:
                raise Broken(f"a client of another protocol ({protocol!r})")
            argc = int(count)
            argv = fields[7 : 7 + argc]
            environ = dict(entry.partition(b"=")[::2] for entry in fields[7 + argc :] if entry)
            return cls(
                kind.decode(),
                identity.decode(),
                umask=int(umask, 8),
                closed=[name for name in closed.decode().split(",") if name],
                ignored=[int(number) for number in ignored.decode().split(",") if number],
                argv=argv,
                environ=environ,
            )
        except (ValueError, UnicodeDecodeError) as exc:
            raise Broken(f"a request sorted cannot read: {exc}") from None


def send_request(connection: socket.socket, request: Request) -> None:
    connection.sendall(request.encode())


def receive_request(connection: socket.socket) -> Request:
    (length,) = _LENGTH.unpack(receive_exactly(connection, _LENGTH.size))
    if length > _LARGEST_REQUEST:
        raise Broken("a request too large to be a client's")
    return Request.decode(receive_exactly(connection, length))


# Descriptors go as SCM_RIGHTS ancillary data: where the system has none (Windows), sorted
# runs every command in its own process.
PASSES_DESCRIPTORS = hasattr(socket, "SCM_RIGHTS") and hasattr(socket.socket, "sendmsg")
_INT = 4  # bytes of a C int: one descriptor in SCM_RIGHTS data


def send_go(connection: socket.socket, descriptors: list[int]) -> None:
    numbers = b"".join(number.to_bytes(_INT, sys.byteorder) for number in descriptors)
    connection.sendmsg([GO], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, numbers)])


def receive_go(connection: socket.socket) -> list[int]:
    """The descriptors that came with GO (the caller closes them); Broken for anything else."""
    kind, ancillary, _flags, _address = connection.recvmsg(1, socket.CMSG_SPACE(DESCRIPTORS * _INT))
    descriptors = []
    for level, message, data in ancillary:
        if level == socket.SOL_SOCKET and message == socket.SCM_RIGHTS:
            whole = len(data) - len(data) % _INT
            descriptors += [
                int.from_bytes(data[at : at + _INT], sys.byteorder) for at in range(0, whole, _INT)
            ]
    if kind != GO or len(descriptors) != DESCRIPTORS:
        for descriptor in descriptors:
            os.close(descriptor)
        raise Broken("no GO with the standard streams and the working folder")
    return descriptors


def receive_exactly(connection: socket.socket, size: int) -> bytes:
    chunks: list[bytes] = []
    while size:
        chunk = connection.recv(size)
        if not chunk:
            raise Broken("the connection closed")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def accepted(pid: int) -> bytes:
    return ACCEPTED + _CODE.pack(pid)


def refused(reason: str) -> bytes:
    return REFUSED + with_length(reason)


def answer(text: str) -> bytes:
    return ANSWER + with_length(text)


def exit_with(code: int) -> bytes:
    return EXIT + _CODE.pack(code)


def signal_of(number: int) -> bytes:
    return SIGNAL + bytes([number])


def with_length(text: str) -> bytes:
    data = text.encode("utf-8", "replace")
    return _LENGTH.pack(len(data)) + data


def receive_text(connection: socket.socket) -> str:
    (length,) = _LENGTH.unpack(receive_exactly(connection, _LENGTH.size))
    return receive_exactly(connection, length).decode("utf-8", "replace")


def receive_number(connection: socket.socket) -> int:
    (number,) = _CODE.unpack(receive_exactly(connection, _CODE.size))
    return int(number)
