"""Quectel's numbers: the 550-574 error table as errno values, and the notes' response times."""
import errno

from atsock.errors import docs_link, os_error

MAX_LINKS = 12
QISEND_MAX = 1460
QIRD_MAX = 1500
READ_TRAILER = b"\r\n\r\nOK\r\n"  # after the data of a +QIRD or +QSSLRECV answer (at-reference §8)

# Maximum response times from the application notes (seconds), with a margin where the note's
# figure is the module's own limit.
T_QUERY = 2.0          # plain commands: 300 ms in the notes
T_QIACT = 150.0
T_QIDEACT = 40.0
T_QIOPEN_URC = 150.0
T_QICLOSE = 15.0       # <timeout> default 10 s + margin
T_QISEND = 120.0
T_QIRD = 120.0
T_DNS_URC = 60.0

#: +QIOPEN / dnsgip / QIGETERROR codes as errno values.
ERRNO = {
    550: errno.EIO, 551: errno.EAGAIN, 552: errno.EINVAL, 553: errno.ENOMEM, 554: errno.EMFILE,
    555: errno.EOPNOTSUPP, 556: errno.EADDRINUSE, 557: errno.EADDRINUSE, 558: errno.EIO,
    559: errno.EIO, 560: errno.ECONNABORTED, 561: errno.ENETUNREACH, 562: errno.EIO,
    563: errno.EADDRINUSE, 564: errno.EAGAIN, 565: errno.EHOSTUNREACH, 566: errno.ECONNREFUSED,
    567: errno.ENOTCONN, 568: errno.EBUSY, 569: errno.ETIMEDOUT, 570: errno.ENETDOWN,
    571: errno.ECANCELED, 572: errno.EPERM, 573: errno.ENETUNREACH, 574: errno.EADDRINUSE,
}

TEXT = {
    550: "unknown error", 551: "operation blocked", 552: "invalid parameters", 553: "memory not enough",
    554: "socket creation failed", 555: "operation not supported", 556: "socket bind failed",
    557: "socket listen failed", 558: "socket write failed", 559: "socket read failed",
    560: "socket accept failed", 561: "PDP context opening failed", 562: "PDP context closure failed",
    563: "socket identity has been used", 564: "DNS busy", 565: "DNS parse failed",
    566: "socket connect failed", 567: "socket has been closed", 568: "operation busy",
    569: "operation timeout", 570: "PDP context broken down", 571: "cancel sending",
    572: "operation not allowed", 573: "APN not configured", 574: "port busy",
}


#: where the docs explain the codes: every error message that carries one says so
DOCS = "see " + docs_link("troubleshooting", "quectel-550-574")


def quectel_error(code: int) -> OSError:
    """The OSError for one of the module's codes; ``modem_code`` keeps the code itself."""
    error = os_error(ERRNO.get(code, errno.EIO), f"modem error {code}: {TEXT.get(code, 'unknown')} ({DOCS})")
    error.modem_code = code
    return error
