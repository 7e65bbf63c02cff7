"""Commands of the emulated ESP-AT module that open no link: the UART (AT+UART_CUR/_DEF, whose
new rate the line follows after the OK), system settings (AT+SYSSTORE, AT+SYSLOG, AT+SYSMSG,
AT+RESTORE), DNS and DHCP settings, AT+CWAUTOCONN, AT+CIPSSLSIZE, AT+CIPSTO, AT+PING, AT+CWLAP and
AT+CWSTATE? — esp-at.md §2.3, §3, §4, §5.8, §5.10, info-and-ports.md §3.4.

AT+CWLAP is not in the reference: its lines take the five fields every generation prints first,
``+CWLAP:(<ecn>,"<ssid>",<rssi>,"<mac>",<channel>)``, one per network the emulator knows.
"""
import ipaddress

from .atcommand import ATCommand

UART_CLOCK = 80_000_000  # ESP8266 UART clock: the rate made is the clock over a whole divider
UART_RATES = (110, 4_608_000)  # the range AT+UART_CUR takes here (the reference gives none: 115200 x 40 at most)
STATION_MODES = (1, 3)    # AT+CWMODE values with the station interface up


def actual_rate(baud: int) -> int:
    """The rate the UART really generates for ``baud`` (AT+UART_CUR? reports it)."""
    return int(UART_CLOCK / round(UART_CLOCK / baud))


class EspSettings:
    def __init__(self, module, baudrate, server_timeout: int = 180, rates=None, hardware_flow: bool = True):
        self.m = module
        self.server_timeout_default = server_timeout  # AT+CIPSTO before any is set (unconfirmed: 180 s)
        self.server_timeout = server_timeout
        self.uart_def = (baudrate or 115200, 8, 1, 0, 0)  # survives a restart
        self.uart_cur = self.uart_def
        self.rates = None if rates is None else tuple(rates)  # None: any in UART_RATES
        self.hardware_flow = hardware_flow
        module.watch_flow(self.flow)
        self.sysstore, self.syslog, self.sysmsg = 1, 0, 0
        self.dns = ["208.67.222.222"]
        self.dhcp = 3
        self.autoconn = 1
        self.ssl_size = 2048

    def handlers(self):
        m = self.m
        table = {"+UART_CUR": self.uart, "+UART_DEF": self.uart, "+RESTORE": self.restore,
                 "+CWAUTOCONN": self.cwautoconn, "+PING": self.ping, "+CWLAP": self.cwlap, "+CIPSTO": self.cipsto}
        if m.profile.ssl_size:
            table["+CIPSSLSIZE"] = self.cipsslsize
        if m.profile.state_queries:
            table["+CWSTATE"] = self.cwstate
        if m.profile.cur_names:  # 1.x: flash-saving variants only
            for name in ("+SYSMSG", "+CIPDNS", "+CWDHCP"):
                handler = {"+SYSMSG": self.sysmsg_cmd, "+CIPDNS": self.cipdns, "+CWDHCP": self.cwdhcp}[name]
                table[name + "_CUR"] = table[name + "_DEF"] = handler
        else:
            table.update({"+SYSSTORE": self.sysstore_cmd, "+SYSLOG": self.syslog_cmd, "+SYSMSG": self.sysmsg_cmd,
                          "+CIPDNS": self.cipdns, "+CWDHCP": self.cwdhcp})
        return table

    def after_restart(self) -> None:
        self.uart_cur = self.uart_def
        self.m.set_rate(self.uart_def[0])
        self.syslog = 0
        self.server_timeout = self.server_timeout_default

    # --- the UART ---------------------------------------------------------------------------------
    async def uart(self, cmd: ATCommand) -> None:
        """``<baud>,<databits>,<stopbits>,<parity>,<flow>``: OK at the old rate, then the new."""
        m = self.m
        if cmd.kind == "read":
            values = self.uart_cur if cmd.name == "+UART_CUR" else self.uart_def
            baud = actual_rate(values[0]) if m.uart_report == "actual" else values[0]
            m.reply(f"{cmd.name}:{baud}," + ",".join(map(str, values[1:])))
            return
        if len(cmd.args) != 5:
            raise ValueError("AT+UART takes five values")
        values = (cmd.number(0, *UART_RATES), cmd.number(1, 5, 8), cmd.number(2, 1, 3), cmd.number(3, 0, 2),
                  cmd.number(4, 0, 3))
        if self.rates is not None and values[0] not in self.rates:
            raise ValueError("line rate")
        if values[4] and not self.hardware_flow:
            raise ValueError("flow control")
        self.uart_cur = values
        if cmd.name == "+UART_DEF":
            self.uart_def = values
        m.final("OK")
        m.set_rate(values[0])

    def flow(self):
        """(rts, cts) the module runs: <flow control> bit 0 is RTS, bit 1 CTS (esp-at.md §3)."""
        flow = self.uart_cur[4]
        return bool(flow & 1), bool(flow & 2)

    # --- system -------------------------------------------------------------------------------------
    async def sysstore_cmd(self, cmd: ATCommand) -> None:
        if cmd.kind == "read":
            self.m.reply(f"+SYSSTORE:{self.sysstore}")
            return
        self.sysstore = cmd.number(0, 0, 1)
        self.m.final("OK")

    async def syslog_cmd(self, cmd: ATCommand) -> None:
        """AT+SYSLOG=1: an ``ERR CODE:0x<8 hex>`` line before each ERROR (esp-at.md §2.3)."""
        if cmd.kind == "read":
            self.m.reply(f"+SYSLOG:{self.syslog}")
            return
        self.syslog = cmd.number(0, 0, 1)
        self.m.final("OK")

    async def sysmsg_cmd(self, cmd: ATCommand) -> None:
        """Bit 0 asks for ``+QUITT`` when passthrough ends; bits 1 and 2 (other connection
        messages) are stored and not acted on."""
        if cmd.kind == "read":
            self.m.reply(f"{cmd.name}:{self.sysmsg}")
            return
        self.sysmsg = cmd.number(0, 0, 7)
        self.m.final("OK")

    async def restore(self, cmd: ATCommand) -> None:
        """Factory settings, then a restart."""
        self.__init__(self.m, None, self.server_timeout_default)
        self.m.final("OK")
        self.m.restart()

    async def cipdns(self, cmd: ATCommand) -> None:
        m = self.m
        if cmd.kind == "read":
            if m.profile.cur_names:
                m.reply(*[f"{cmd.name}:{server}" for server in self.dns])
            else:
                m.reply("+CIPDNS:" + ",".join(["1"] + [f'"{server}"' for server in self.dns]))
            return
        if m.profile.cur_names:  # 1.x: AT+CIPDNS_CUR=<enable>[,"<dns1>"[,"<dns2>"]]
            enable, servers = cmd.number(0, 0, 1), cmd.args[1:3]
        else:
            enable, servers = cmd.number(0, 0, 1), cmd.args[1:4]
        if len(cmd.args) > 1 + len(servers):
            raise ValueError("too many DNS servers")
        for server in servers:
            if server:
                ipaddress.ip_address(server)
        self.dns = [s for s in servers if s] if enable and servers else ["208.67.222.222"]
        m.final("OK")

    async def cwdhcp(self, cmd: ATCommand) -> None:
        """Stored only: the emulated station always has its address."""
        if cmd.kind == "read":
            self.m.reply(f"{cmd.name}:{self.dhcp}")
            return
        if self.m.profile.cur_names:  # 1.x: <mode 0-2>,<en 0-1>
            cmd.number(0, 0, 2)
            cmd.number(1, 0, 1)
        else:  # 2.x: <operate 0-1>,<mode 1-3>
            cmd.number(0, 0, 1)
            cmd.number(1, 1, 3)
        self.m.final("OK")

    async def cwautoconn(self, cmd: ATCommand) -> None:
        if cmd.kind == "read":
            self.m.reply(f"+CWAUTOCONN:{self.autoconn}")
            return
        self.autoconn = cmd.number(0, 0, 1)
        self.m.final("OK")

    async def cipsto(self, cmd: ATCommand) -> None:
        """The server's idle time-out, 0 (never) to 7200 s; stored (idle clients are not dropped)."""
        if cmd.kind == "read":
            self.m.reply(f"+CIPSTO:{self.server_timeout}")
            return
        if cmd.kind != "write" or len(cmd.args) != 1:
            raise ValueError("AT+CIPSTO takes one value")
        self.server_timeout = cmd.number(0, 0, 7200)
        self.m.final("OK")

    async def cipsslsize(self, cmd: ATCommand) -> None:
        """The SSL buffer size, 2048-4096; stored (the emulator's SSL links take records of any size)."""
        self.ssl_size = cmd.number(0, 2048, 4096)
        self.m.final("OK")

    # --- the network ---------------------------------------------------------------------------------
    async def ping(self, cmd: ATCommand) -> None:
        """AT+PING="<host>": ``+PING:<ms>`` and OK, or ``+PING:TIMEOUT`` and ERROR."""
        m = self.m
        if cmd.kind != "write" or not cmd.arg(0):
            raise ValueError("AT+PING needs a host")
        addresses = m.network.resolve(cmd.arg(0)) if m.joined else []
        if not addresses or not m.network.reachable(addresses[0]):
            m.info("+PING:TIMEOUT")
            m.final("ERROR")
            return
        m.reply("+PING:1")

    async def cwlap(self, cmd: ATCommand) -> None:
        m = self.m
        if m.wifi_mode not in STATION_MODES:
            m.final("ERROR")
            return
        wanted = cmd.arg(0) if cmd.kind == "write" else None
        lines = []
        for index, (ssid, password) in enumerate(sorted(m.networks.items())):
            if wanted is None or ssid == wanted:
                ecn = 3 if password else 0  # WPA2_PSK or open
                lines.append(f'+CWLAP:({ecn},"{ssid}",{-40 - 5 * index},"aa:bb:cc:dd:ee:{index:02x}",'
                             f'{1 + 5 * index % 13})')
        m.reply(*lines)

    async def cwstate(self, cmd: ATCommand) -> None:
        """2.x: ``+CWSTATE:<state>,"<ssid>"``: 0 idle, 2 got IPv4, 3 connecting, 4 disconnected."""
        m = self.m
        if cmd.kind != "read":
            raise ValueError("AT+CWSTATE? is a query")
        state = {"idle": 0, "connecting": 3, "got_ip": 2, "disconnected": 4}[m.wifi_state]
        m.reply(f'+CWSTATE:{state},"{m.joined or m.last_ssid or ""}"')
