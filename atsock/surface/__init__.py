"""What the public faces share (internal): the ``socket`` object and the rules every socket-like
class follows.

The usocket socket (``atsock.socket``), CPython's argument checks, addresses of each family and
``getaddrinfo``, waiting under a socket's time-out, the default modem. Users import these names
from :mod:`atsock`, :mod:`atsock.select`, :mod:`atsock.ssl`...; the modules here move without notice.
"""
__all__ = []
