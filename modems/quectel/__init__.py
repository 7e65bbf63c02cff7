"""Quectel "QI" TCP/IP dialect: BG95, BG96, BG77, EC2x, EG2x, EG9x, EC200U.

``codes`` (error table, response times), ``bringup`` (power-on to active context), ``dns``
(AT+QIDNSGIP), ``sockets`` (open, send, fetch, accept, close), ``dialect`` (the whole, as the
socket layer sees it). Wire facts: ``shared/at-reference/quectel-tcpip.md``.
"""
from .dialect import QuectelDialect

__all__ = ["QuectelDialect"]
