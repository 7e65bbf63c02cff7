"""MaixPy's ``network`` for an ESP8285/ESP8266 on a serial port: ``network.ESP8285(port)``.

    from atsock import network
    import atsock as usocket
    nic = network.ESP8285("/dev/ttyS0")        # or an open serial.Serial, or an open ESP Modem
    nic.connect("ssid", "key")
    ip, netmask, gateway, dns, dhcp, mac, ssid = nic.ifconfig()
    addr = usocket.getaddrinfo("example.org", 80)[0][-1]

Unlike MaixPy's driver, the sockets it gives also listen and accept, and speak UDP.
"""
from typing import Tuple

from .modem import Modem


class ESP8285:
    def __init__(self, port_or_serial, *, baudrate: int = 115200, **settings):
        """Reset and configure the module (no Wi-Fi yet); raises OSError if it does not answer.

        Given a :class:`Modem` already open on an ESP, use it as it is (and leave it open on close()).
        """
        if isinstance(port_or_serial, Modem):
            if port_or_serial.dialect_class.name != "esp8285" or settings:
                raise ValueError("ESP8285 takes an open ESP modem as it is (no settings), "
                                 f"not a {port_or_serial.dialect_class.name} one")
            self.modem, self._owns_modem = port_or_serial, False
            return
        self.modem = Modem(port_or_serial, "esp8285", baudrate=baudrate, **settings)
        self._owns_modem = True

    def connect(self, ssid: str, key: str = "") -> None:
        """Join a Wi-Fi network; OSError (EACCES wrong key, ENETUNREACH no such network...) if not."""
        self.modem.join(ssid, key)

    def isconnected(self) -> bool:
        return self.modem.state == "online"

    def disconnect(self) -> None:
        self.modem.leave()

    def ifconfig(self) -> Tuple[str, ...]:
        """MaixPy's tuple of strings; "0" for what is unknown."""
        return self.modem.ifconfig()

    def close(self) -> None:
        if self._owns_modem:
            self.modem.close()

    def __enter__(self) -> "ESP8285":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
