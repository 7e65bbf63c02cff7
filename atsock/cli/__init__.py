"""The ``atsock`` command line: find the port, inspect the module, talk AT, and let host programs use
the modem's TCP/IP stack.

One module per subcommand (``ports``, ``info``, ``at``, ``get``, ``socks``, ``forward``), each with
``add_parser`` and ``run``; :mod:`atsock.cli.main` builds the tree. The work itself lives in helper
modules that know nothing of argparse: ``answers`` (reading status answers), ``portroles`` (Quectel
USB layouts), ``serialat`` (a serial port spoken to a line at a time), ``session`` (the engine
without a dialect), ``dial`` (a connected modem socket), ``httpget``, ``progress``, ``socks5`` and
``relay``.
"""
