"""IP addresses as the emulated modules read and print them (shared/at-reference/ipv6.md).

Both families are served over loopback only: an IPv6 socket of the module is a host socket on
``::1``, an IPv4 one on 127.0.0.1.
"""
import ipaddress
import struct
from typing import Optional

LOOPBACK = {4: "127.0.0.1", 6: "::1"}


def version(text: str) -> Optional[int]:
    """4 or 6 for an IP literal (any case, compressed or written out), None for anything else."""
    try:
        return ipaddress.ip_address(text).version
    except ValueError:
        return None


def normal(text: str) -> str:
    """One spelling per address (lower-case, compressed), for comparing and for host sockets."""
    return str(ipaddress.ip_address(text))


def printed(text: str, upper: bool = True, compressed: bool = True) -> str:
    """An address as a Quectel module prints it: IPv6 upper-case and compressed in the logs of
    ipv6.md §1.2 (both unconfirmed for socket answers, hence the switches); IPv4 as it is."""
    address = ipaddress.ip_address(text)
    if address.version == 4:
        return str(address)
    if compressed:  # an IPv4-mapped address ends in a dotted quad (RFC 5952, lwIP), on every Python
        mapped = address.ipv4_mapped
        shown = f"::ffff:{mapped}" if mapped is not None else str(address)
    else:  # from the bytes: from Python 3.13 on, exploded ends a mapped address in a dotted quad too
        shown = ":".join(format(group, "x") for group in struct.unpack("!8H", address.packed))
    return shown.upper() if upper else shown
