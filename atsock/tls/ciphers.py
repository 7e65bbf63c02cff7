"""Cipher suite names: MicroPython's ``set_ciphers`` takes a list of IANA-style names
(``"TLS-ECDHE-RSA-WITH-AES-128-GCM-SHA256"``, mbedtls' spelling), CPython's an OpenSSL string
(``"ECDHE-RSA-AES128-GCM-SHA256"``). This turns the first into the second."""
import re
import ssl as _ssl
from functools import lru_cache
from typing import Dict, Iterable, List, Tuple

_JOINED = {"AES", "CAMELLIA", "ARIA"}   # "AES 128" is "AES128" in OpenSSL's names
_DROPPED = {"TLS", "WITH", "CBC"}        # OpenSSL leaves these out


def _key(name: str, iana: bool) -> Tuple[str, ...]:
    """The words that identify a TLS 1.2 suite, the same for both spellings of its name."""
    words = re.split(r"[-_]", name.upper())
    if iana and words[1:2] == ["RSA"] and words[2:3] == ["WITH"]:
        words = words[2:]  # plain RSA key exchange has no word of its own in OpenSSL's names
    merged: List[str] = []
    for word in words:
        if word.isdigit() and merged and merged[-1] in _JOINED:
            merged[-1] += word
        elif word not in _DROPPED:
            merged.append(word)
    if "CHACHA20" in merged and merged[-1] == "SHA256":
        merged.pop()  # OpenSSL names the ChaCha20 suites without their hash
    return tuple(merged)


@lru_cache(maxsize=1)
def _known() -> Tuple[Dict[str, str], Dict[Tuple[str, ...], str]]:
    """OpenSSL's names of every suite it has (enabled by default or not), by name and by key."""
    scratch = _ssl.SSLContext(_ssl.PROTOCOL_TLS_CLIENT)
    scratch.set_ciphers("ALL:@SECLEVEL=0")
    by_name, by_key = {}, {}
    for suite in scratch.get_ciphers():
        by_name[suite["name"].upper()] = suite["name"]
        if suite["protocol"] != "TLSv1.3":
            by_key[_key(suite["name"], iana=False)] = suite["name"]
    return by_name, by_key


def openssl_names(names: Iterable[str]) -> Tuple[List[str], List[str]]:
    """OpenSSL's names for the TLS 1.2 suites in ``names``, and the TLS 1.3 suites among them.

    Raises ``ssl.SSLError`` for a name OpenSSL does not know in either spelling."""
    by_name, by_key = _known()
    tls12, tls13 = [], []
    for name in names:
        if not isinstance(name, str):
            raise TypeError(f"cipher names are str, not {type(name).__name__}")
        found = by_name.get(name.upper()) or by_key.get(_key(name, iana=name.upper().startswith("TLS")))
        if found is None:
            raise _ssl.SSLError(f"unknown cipher suite {name!r}")
        (tls13 if found.startswith("TLS_") else tls12).append(found)
    return tls12, tls13
