"""Real peers the tests need but do not ship: a mosquitto broker, ser2net and micropython-lib's clients
(and the tools the documentation tests use: Chromium, npm).

All are fetched from the package registries on first use (Debian for mosquitto, ser2net, Chromium and npm, PyPI for the
micropython-lib sdists, whose missing setup.py keeps pip from installing them) so that CI on a
fresh machine has them too. Downloads are checked against the registry's SHA-256 and cached.
"""
import hashlib
import json
import os
import shutil
import socket
import subprocess
import tarfile
import time
import urllib.request
from pathlib import Path
from typing import Optional, Tuple

CACHE = Path(os.environ.get("ATSOCK_TEST_CACHE", Path.home() / ".cache" / "atsock-tests"))
PYPI = "https://pypi.org/pypi/{name}/json"

MICROPYTHON_LIB = {
    "micropython-umqtt.simple": ("1.3.4", "umqtt/simple.py"),
    "micropython-urllib.urequest": ("0.6.3", "urllib/urequest.py"),
}


def micropython_module(package: str) -> Path:
    """The module file of a micropython-lib sdist from PyPI, unpacked under the cache."""
    version, member = MICROPYTHON_LIB[package]
    target = CACHE / f"{package}-{version}" / member
    if target.exists():
        return target
    with urllib.request.urlopen(PYPI.format(name=package), timeout=60) as response:
        project = json.load(response)
    sdist = next(u for u in project["releases"][version] if u["packagetype"] == "sdist")
    with urllib.request.urlopen(sdist["url"], timeout=60) as response:
        blob = response.read()
    if hashlib.sha256(blob).hexdigest() != sdist["digests"]["sha256"]:
        raise RuntimeError(f"{package} {version}: SHA-256 does not match PyPI's")
    archive = CACHE / sdist["filename"]
    archive.parent.mkdir(parents=True, exist_ok=True)
    archive.write_bytes(blob)
    with tarfile.open(archive) as tar:
        source = tar.extractfile(f"{package}-{version}/{member}").read()
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(source)
    return target


def _debian_binary(name: str, package: str) -> str:
    """The path of ``name``, installing its Debian ``package`` first if it is missing (as root)."""
    for candidate in (shutil.which(name), f"/usr/sbin/{name}", f"/usr/bin/{name}"):
        if candidate and os.path.exists(candidate):
            return candidate
    if os.geteuid() != 0:
        raise RuntimeError(f"{name} is not installed and the tests are not root: apt-get install {package}")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    wait = ["-o", "DPkg::Lock::Timeout=600"]  # test workers installing at once take turns
    install = ["apt-get", *wait, "install", "-y", "-q", "--no-install-recommends", package]
    try:
        if subprocess.run(install, env=env, capture_output=True).returncode != 0:
            subprocess.run(["apt-get", *wait, "update", "-q"], env=env, check=True, capture_output=True, text=True)
            subprocess.run(install, env=env, check=True, capture_output=True, text=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        said = getattr(exc, "stderr", None) or exc
        raise RuntimeError(f"{name} is not installed and Debian's {package} could not be installed: {said}") from exc
    return shutil.which(name) or f"/usr/sbin/{name}"


def _mosquitto_binary() -> str:
    return _debian_binary("mosquitto", "mosquitto")


def ser2net_binary() -> str:
    """Debian's ser2net (version 4: YAML configuration), the serial server of modem farms."""
    return _debian_binary("ser2net", "ser2net")


def chromium_binary() -> str:
    """Debian's Chromium, for the tests that look at the documentation site in a browser."""
    return _debian_binary("chromium", "chromium")


def npm_binary() -> str:
    """Debian's npm: the documentation site ships the Mermaid script from the npm registry."""
    return _debian_binary("npm", "npm")


def mosquitto_client(name: str) -> str:
    """``mosquitto_pub`` or ``mosquitto_sub``: unmodified MQTT clients from Debian's mosquitto-clients."""
    return _debian_binary(name, "mosquitto-clients")


class Mosquitto:
    """A private broker on 127.0.0.1 at a free port, stopped by close(). With ``tls`` (paths of the
    CA, certificate and key files) its listener speaks TLS only."""

    def __init__(self, workdir: Path, tls: Optional[Tuple[Path, Path, Path]] = None):
        binary = _mosquitto_binary()
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        config = workdir / "mosquitto.conf"
        lines = [f"listener {self.port} 127.0.0.1", "allow_anonymous true", "persistence false"]
        if tls is not None:
            lines += [f"{option} {path}" for option, path in zip(("cafile", "certfile", "keyfile"), tls)]
            if os.geteuid() == 0:  # else it drops to a user who cannot read the test's private files
                lines.append("user root")
        config.write_text("\n".join(lines) + "\n")
        self.process = subprocess.Popen([binary, "-c", str(config)], stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError(f"mosquitto exited: {self.process.stderr.read().decode()}")
                time.sleep(0.05)
        raise RuntimeError("mosquitto did not start listening")

    def close(self) -> None:
        self.process.terminate()
        self.process.wait(10)
