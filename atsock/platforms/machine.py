"""MaixPy's ``machine``: an inert ``UART`` that ``network.ESP8285(uart)`` accepts.

On the board the UART is the serial line to the ESP; here that line is the port given to
``atsock.micropython.load(..., port=...)`` or the modem already open, so the UART object only
records what it was built with.
"""


class UART:
    UART1, UART2, UART3, UARTHS = 1, 2, 3, 0

    def __init__(self, uart_id=1, baudrate: int = 115200, bits: int = 8, parity=None, stop: int = 1,
                 timeout: int = 1000, read_buf_len: int = 4096, **options):
        self.id = uart_id
        self.baudrate = baudrate

    def init(self, baudrate: int = 115200, *args, **options) -> None:
        self.baudrate = baudrate

    def deinit(self) -> None:
        """Nothing to release."""
