"""What CPython's socket object adds for files, shared by the plain and the TLS socket.

``makefile`` is CPython's own method: a :class:`socket.SocketIO` (a raw stream over ``recv_into``
and ``send``) under the standard library's ``BufferedReader``/``BufferedWriter``/``BufferedRWPair``
and ``TextIOWrapper``, so buffering, ``readline(limit)``, ``flush`` and text decoding are the
standard library's, not ours. As in CPython, ``close()`` waits for the last file made from the
socket: ``http.client`` closes its socket while the response goes on reading its body.
``sendfile`` is CPython's fallback for sockets without a kernel ``sendfile``: read, then send.
"""
import socket as _std


class FileSurface:
    _io_refs = 0               # files open on this socket (CPython's counter, kept by its makefile)
    _close_wanted = False      # close() was called while files were open

    makefile = _std.socket.makefile
    sendfile = _std.socket._sendfile_use_send
    _check_sendfile_params = _std.socket._check_sendfile_params

    def _decref_socketios(self) -> None:
        """A file made by makefile() closed (CPython's SocketIO calls this)."""
        if self._io_refs > 0:
            self._io_refs -= 1
        if self._close_wanted:
            self.close()

    def close(self) -> None:
        self._close_wanted = True
        if self._io_refs <= 0:
            super().close()
