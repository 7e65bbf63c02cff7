"""3GPP TS 27.010 (CMUX), basic option, under the AT engines: ``open_modem(..., cmux=True)``.

``frames`` (frames, FCS, a reader for a noisy stream), ``control`` (the control channel's
messages) and ``mux`` (the host's end: channels, flow control, close-down) do no I/O; ``line`` is
the serial port's protocol that gives each engine a channel of its own. The wire facts are in
``shared/at-reference/cmux.md``.
"""
