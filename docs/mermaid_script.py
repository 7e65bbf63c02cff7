"""MkDocs hook: the Mermaid script ships with the site, so diagrams draw without a network.

The Material theme draws ```` ```mermaid ```` blocks with the global ``mermaid`` when a page has
one, and only fetches the script from a CDN when it has none. Pages with a diagram get
``assets/javascripts/mermaid.min.js``, taken at build time from the npm registry's ``mermaid``
package (the version pinned below, checked against its integrity) and cached, so only the first
build on a machine needs npm and the network.

Why not diagrams pre-rendered to SVG: that needs a browser on every machine that edits one, the
pictures could drift from the Mermaid text, and they would not follow the theme's colours.
"""
import base64
import hashlib
import io
import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from mkdocs.structure.files import File
from mkdocs.utils import get_relative_url

# Material for MkDocs 9 draws with Mermaid 11; npm's integrity of that tarball (`npm view mermaid@VERSION dist`)
VERSION = "11.17.2"
INTEGRITY = "sha512-V6K3C8EBdEsPFZXSKMJe6ppQOENxuHARr9GvHX4hh47lAbhMRD9qf4oEK7LoaRQxULMa80/qt5gHO73aCleBBg=="
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "atsock-docs" / f"mermaid-{VERSION}"
SCRIPT = "assets/javascripts/mermaid.min.js"
SHIPPED = {"package/dist/mermaid.min.js": SCRIPT, "package/LICENSE": "assets/javascripts/mermaid.LICENSE.txt"}


def fetch(npm: str = "npm") -> Path:
    """The cached package's files (see ``SHIPPED``), fetched with ``npm pack`` on first use."""
    if all((CACHE / Path(name).name).exists() for name in SHIPPED):
        return CACHE
    if shutil.which(npm) is None:
        raise RuntimeError(f"the docs ship Mermaid {VERSION} from the npm registry, and there is no npm to fetch it "
                           "(Debian: apt-get install npm)")
    CACHE.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=CACHE.parent) as work:
        subprocess.run([npm, "pack", f"mermaid@{VERSION}", "--pack-destination", work], check=True,
                       capture_output=True, cwd=work)
        tarball = Path(work, f"mermaid-{VERSION}.tgz").read_bytes()
        digest = "sha512-" + base64.b64encode(hashlib.sha512(tarball).digest()).decode()
        if digest != INTEGRITY:
            raise RuntimeError(f"mermaid {VERSION} from npm is not the tarball pinned in {__file__}: {digest}")
        unpacked = Path(work, "unpacked")
        unpacked.mkdir()
        with tarfile.open(fileobj=io.BytesIO(tarball)) as tar:
            for name in SHIPPED:
                (unpacked / Path(name).name).write_bytes(tar.extractfile(name).read())
        try:
            unpacked.rename(CACHE)  # whole or not at all: a build beside this one sees either
        except OSError:
            if not CACHE.exists():
                raise
    return CACHE


def on_files(files, config):  # the MkDocs hooks
    cache = fetch()
    for name, uri in SHIPPED.items():
        files.append(File.generated(config, uri, abs_src_path=str(cache / Path(name).name)))
    return files


def on_post_page(output, page, config):
    if 'class="mermaid"' not in output:
        return output
    script = f'<script src="{get_relative_url(SCRIPT, page.url)}"></script>'
    return output.replace("</body>", f"{script}\n</body>", 1)
