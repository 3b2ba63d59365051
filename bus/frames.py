"""Multipart send and receive for plain sockets, cheaper per frame than pyzmq's own.

pyzmq's ``send_multipart`` ORs enum flags once per frame and type-checks every part first, and
``recv_multipart`` asks ``RCVMORE`` after each frame (an enum built per ``getsockopt``); on the
replier's path (three frames in, three out per request) both showed in profiles.
"""

from __future__ import annotations

from typing import Any

import zmq

_NOBLOCK = int(zmq.NOBLOCK)
_MORE = int(zmq.SNDMORE) | _NOBLOCK


def receive_frames(sock: zmq.Socket[Any], flags: int = _NOBLOCK) -> list[bytes]:
    """Every frame of the next message (``zmq.Again`` if there is none and ``flags`` say not to
    wait). Each frame says itself whether more follow: cheaper than asking the socket, whose
    ``getsockopt`` builds an enum per call."""
    frame = sock.recv(flags, copy=False)
    frames = [frame.bytes]
    while frame.more:
        frame = sock.recv(flags, copy=False)
        frames.append(frame.bytes)
    return frames


def send_frames(sock: zmq.Socket[Any], frames: list[bytes]) -> None:
    """Queue ``frames`` as one message (``zmq.Again`` if the socket cannot take it now)."""
    last = len(frames) - 1
    for index, frame in enumerate(frames):
        sock.send(frame, _NOBLOCK if index == last else _MORE)
