"""Local servers the tests start (Streamlit, an OIDC provider, llama.cpp's OpenAI-compatible server):
one start-wait-stop helper, so each test says only what to run and how to know it is ready."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def local_server(args: list[str], ready: Callable[[], bool], log_path: Path, what: str, timeout: float = 60.0,
                 poll: float = 0.3, **popen):
    """Start ``args`` (output to ``log_path``), wait until ``ready()`` is true (an OSError counts as not yet),
    yield, then stop the process (terminate, kill after 10 s). Raises when it exits or times out first."""
    log = open(log_path, "w")
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, **popen)
    try:
        deadline = time.time() + timeout
        while True:
            try:
                if ready():
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.time() > deadline:
                raise RuntimeError(f"{what} did not start: see {log.name}")
            time.sleep(poll)
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()
