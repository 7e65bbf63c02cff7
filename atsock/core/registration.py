"""Network registration and signal in words: the 3GPP TS 27.007 ``<stat>`` of ``+CREG``,
``+CGREG`` and ``+CEREG`` and the ``<rssi>`` of ``+CSQ``, which every cellular dialect reports the
same way. The driver's messages and ``atsock info`` both say them with these words.

Registered means ``<stat>`` 1 (home) or 5 (roaming); 9 and 10 ("CSFB not preferred") are
registered for data too, as some stacks count them (``shared/at-reference/sim-registration.md``
§5.2). Each query reports its own domain, and they disagree (an LTE-M network leaves CREG at 0):
the module is registered when any of them says so.
"""
from typing import Dict, Optional

#: 27.007 <stat> -> words
STATES = {
    0: "not registered, not searching",
    1: "registered (home)",
    2: "searching",
    3: "registration denied",
    4: "unknown (out of coverage)",
    5: "registered (roaming)",
    6: "registered for SMS only (home)",
    7: "registered for SMS only (roaming)",
    8: "emergency services only",
    9: "registered (home, CSFB not preferred)",
    10: "registered (roaming, CSFB not preferred)",
    11: "attached for RLOS only",
}
REGISTERED = frozenset({1, 5, 9, 10})
DENIED = 3
ROAMING = frozenset({5, 10})
#: the query that reports each domain, and the domain's name in messages
DOMAINS = {"+CEREG": "LTE", "+CGREG": "GPRS", "+CREG": "CS"}
NO_SIGNAL = 99  # AT+CSQ <rssi>: not known or not detectable


def words(stat: Optional[int]) -> str:
    if stat is None:
        return "not reported"
    return STATES.get(stat, f"stat {stat} (not in 27.007)")


def summary(stats: Dict[str, Optional[int]]) -> str:
    """``{"+CEREG": 2, "+CGREG": 0, "+CREG": 0}`` -> ``LTE: searching; GPRS, CS: not registered,
    not searching``: each state once, after the domains that report it."""
    grouped: Dict[str, list] = {}
    for query, stat in stats.items():
        grouped.setdefault(words(stat), []).append(DOMAINS.get(query, query.lstrip("+")))
    return "; ".join(f"{', '.join(domains)}: {state}" for state, domains in grouped.items()) or "nothing reported"


def best(stats: Dict[str, Optional[int]]) -> Optional[int]:
    """The one ``<stat>`` that describes the module: a registration where any domain has one, else
    a denial, else what the first domain (LTE) says."""
    known = [stat for stat in stats.values() if stat is not None]
    for wanted in (REGISTERED, {DENIED}):
        found = [stat for stat in known if stat in wanted]
        if found:
            return found[0]
    return known[0] if known else None


def signal_words(rssi: Optional[int]) -> str:
    """``+CSQ`` <rssi> in words: ``-75 dBm (CSQ 19)``, or ``no signal, CSQ 99``."""
    if rssi is None:
        return "signal unknown"
    if rssi == NO_SIGNAL:
        return f"no signal, CSQ {NO_SIGNAL}"
    dbm = csq_dbm(rssi)
    return f"{dbm} dBm (CSQ {rssi})" if dbm is not None else f"CSQ {rssi} (not in 27.007)"


def csq_dbm(rssi: Optional[int]) -> Optional[int]:
    """27.007: 0 is -113 dBm or less, 31 is -51 dBm or more, 99 unknown."""
    if rssi is None or not 0 <= rssi <= 31:
        return None
    return -113 + 2 * rssi
