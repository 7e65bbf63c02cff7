"""QuecPython's ``checkNet``: wait for the data network before a program opens sockets.

The answer comes from the modem atsock has open: ``wait_network_connected`` returns QuecPython's
``(stagecode, subcode)``, ``(3, 1)`` once the modem is online. Otherwise, when ``timeout`` seconds
have passed, the stage it is stuck in with subcode 0: 1 no modem yet or the module/SIM not ready,
2 not registered (or no Wi-Fi joined), 3 data context not active.
"""
import errno
import logging
import time
from typing import Tuple

from ..surface.current import current_modem

log = logging.getLogger("atsock.checkNet")

_STAGE = {"registering": 2, "activating": 3, "recovering": 2}


def _stage() -> Tuple[int, int]:
    try:
        state = str(current_modem().state)
    except OSError as exc:
        if exc.errno != errno.ENETDOWN:
            raise
        return 1, 0
    if state == "online":
        return 3, 1
    return _STAGE.get(state, 1), 0


def waitNetworkReady(timeout: float = 60) -> Tuple[int, int]:
    """``(3, 1)`` as soon as the modem is online, else its stage after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        stage = _stage()
        if stage == (3, 1) or time.monotonic() >= deadline:
            return stage
        time.sleep(0.05)


class CheckNetwork:
    def __init__(self, project_name: str, project_version: str):
        self.project_name = project_name
        self.project_version = project_version

    def poweron_print_once(self) -> None:
        """On the module this prints firmware and SIM details; here the project and the modem state go to the log."""
        try:
            state = str(current_modem().state)
        except OSError:
            state = "no modem open"
        log.info("PROJECT_NAME: %s, PROJECT_VERSION: %s, modem: %s", self.project_name, self.project_version, state)

    def wait_network_connected(self, timeout: float = 60) -> Tuple[int, int]:
        return waitNetworkReady(timeout)
