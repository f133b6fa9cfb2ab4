"""Which addresses a process tree tried to reach: ``strace -f -e trace=connect`` around a
command, its ``connect()`` targets sorted into local (loopback, Unix sockets, the kernel)
and outside. Used by ``benchmarks/scale_ray.py --strace`` and the loopback tests."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

_FAMILY = re.compile(r"sa_family=(AF_\w+)")
_UNIX = re.compile(r'sun_path="([^"]*)"')
_IPV4 = re.compile(r'inet_addr\("([^"]+)"\)')
_IPV6 = re.compile(r'inet_pton\(AF_INET6, "([^"]+)"')
_PORT = re.compile(r"sin6?_port=htons\((\d+)\)")


@dataclass
class Targets:
    """``connect()`` calls by target: ``local`` (loopback, Unix, kernel) and ``outside``."""

    local: Counter[str] = field(default_factory=Counter)
    outside: Counter[str] = field(default_factory=Counter)
    exit_status: int = 0


def is_loopback(addr: str) -> bool:
    return addr.startswith("127.") or addr in ("::1", "::") or addr.startswith("::ffff:127.")


def connect_targets(trace: str) -> Targets:
    """Parse an ``strace -f -e trace=connect`` log."""
    out = Targets()
    for line in trace.splitlines():
        if "connect(" not in line or "resumed>" in line:
            continue
        family = _FAMILY.search(line)
        kind = family.group(1) if family else "unparsed"
        if kind == "AF_UNIX":
            found = _UNIX.search(line)
            path = re.sub(r"lembed-ray-\w+", "lembed-ray-*", found.group(1) if found else "?")
            out.local["unix:" + re.sub(r"session_[^/]+", "session_*", path)] += 1
        elif kind in ("AF_INET", "AF_INET6"):
            addr = _IPV4.search(line) or _IPV6.search(line)
            port = _PORT.search(line)
            where = addr.group(1) if addr else "?"
            if is_loopback(where):
                out.local[f"{kind} loopback {where}"] += 1
            else:
                out.outside[f"{kind} {where}:{port.group(1) if port else '?'}"] += 1
        else:  # AF_NETLINK and the like: the kernel
            out.local[kind] += 1
    return out


def traced(cmd: list[str], env: dict[str, str] | None = None, timeout: float = 600) -> Targets:
    """Run ``cmd`` under ``strace -f -e trace=connect``; what it (and its children) reached."""
    strace = shutil.which("strace")
    if strace is None:
        raise FileNotFoundError("strace is not installed (apt-get install -y strace)")
    folder = Path(tempfile.mkdtemp(prefix="lembed-strace-"))
    try:
        log = folder / "connect.log"
        done = subprocess.run(
            [strace, "-f", "-e", "trace=connect", "-o", str(log), *cmd],
            env=env if env is not None else dict(os.environ),
            timeout=timeout,
            check=False,
        )
        result = connect_targets(log.read_text(errors="replace"))
        result.exit_status = done.returncode
        return result
    finally:
        shutil.rmtree(folder, ignore_errors=True)
