"""Test-only network guard: any connection or name lookup beyond loopback is refused and
recorded. Loaded into the test process by conftest.py, and into every subprocess the tests
start (this folder is put on their PYTHONPATH), so the appliance is proven never to phone home.
"""

import ipaddress
import os
import socket

_LOG = os.environ.get("NETGUARD_LOG")
_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", ""}


def _is_local(host) -> bool:
    if isinstance(host, bytes):
        host = host.decode()
    if host is None or str(host).lower() in _LOCAL_NAMES:
        return True
    try:
        address = ipaddress.ip_address(str(host).split("%")[0])
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified  # 0.0.0.0: listening on every
    # interface (loopback alone in a test's network namespace), never reaching out


def _refuse(what: str):
    if _LOG:
        with open(_LOG, "a", encoding="utf-8") as f:
            f.write(f"{os.getpid()} {what}\n")
    raise OSError(f"network access outside loopback is forbidden in tests: {what}")


def _guard(address, family):
    if family in (socket.AF_INET, socket.AF_INET6) and not _is_local(address[0]):
        _refuse(f"connect {address!r}")


_connect, _connect_ex = socket.socket.connect, socket.socket.connect_ex
_sendto, _getaddrinfo = socket.socket.sendto, socket.getaddrinfo


def _guarded_connect(self, address):
    _guard(address, self.family)
    return _connect(self, address)


def _guarded_connect_ex(self, address):
    _guard(address, self.family)
    return _connect_ex(self, address)


def _guarded_sendto(self, data, *args):
    _guard(args[-1], self.family)
    return _sendto(self, data, *args)


def _guarded_getaddrinfo(host, *args, **kwargs):
    if not _is_local(host):
        _refuse(f"lookup {host!r}")
    return _getaddrinfo(host, *args, **kwargs)


socket.socket.connect = _guarded_connect
socket.socket.connect_ex = _guarded_connect_ex
socket.socket.sendto = _guarded_sendto
socket.getaddrinfo = _guarded_getaddrinfo
