"""Speed benchmark for services/enrich: whole enrich step vs. bare spaCy NER, same texts, one run.

    python bench/enrich_speed.py [--data ../shared/eval] [--articles 600] [--repeat 2]

Texts: the LGL and GeoVirus article bodies from ``--data`` when present (read only, never
stored), else built-in synthetic news paragraphs. Prints words/second and articles/second for
both, their ratio, the peak RSS of the process and the start-up time of `newswire tag`.
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import time
import xml.etree.ElementTree as ET  # noqa: S405 - trusted local evaluation files
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SYNTHETIC = [
    "U.S. Secretary of State Antony Blinken met Iraqi Prime Minister Mohammed Shia al-Sudani "
    "in Baghdad on Tuesday as an Iran-backed militia warned of escalation.",
    "Shares of Toyota and Honda fell in Tokyo after the Bank of Japan signalled a rate rise, "
    "while Samsung gained in Seoul.",
    "Police in Alexandria, Va., said a 34-year-old man was arrested on Main Street after a "
    "crash that closed Interstate 95 for three hours.",
    "Georgia's president said in Tbilisi that the country would keep its course toward the "
    "European Union despite pressure from Moscow.",
    "Jordan's King Abdullah II received the Egyptian foreign minister in Amman to discuss "
    "aid deliveries to Gaza.",
]


def peak_rss_mb() -> float:
    # ru_maxrss is KiB on Linux
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def load_texts(data: Path, n: int) -> list[str]:
    texts: list[str] = []
    for name, tag in (("lgl.xml", "text"), ("geovirus.xml", "text")):
        path = data / name
        if path.exists():
            root = ET.parse(path).getroot()  # noqa: S314
            texts.extend(a.findtext(tag) or "" for a in root.iter("article"))
    if not texts:
        rng = random.Random(7)
        texts = ["\n\n".join(rng.sample(SYNTHETIC, 3)) for _ in range(n)]
    return [t for t in texts if t.strip()][:n]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--data", default=str(ROOT.parent / "shared" / "eval"))
    ap.add_argument("--articles", type=int, default=600)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--repeat", type=int, default=2, help="alternating timed rounds per system")
    args = ap.parse_args(argv)

    from services.enrich.tagger import get_tagger

    t0 = time.perf_counter()
    tagger = get_tagger()
    load_s = time.perf_counter() - t0
    nlp = tagger.nlp  # the same pipeline object: tok2vec + ner
    texts = load_texts(Path(args.data), args.articles)
    # language=None: the enrich step detects the language itself, as in production
    arts = [{"id": str(i), "body": t, "language": None} for i, t in enumerate(texts)]
    words = sum(len(t.split()) for t in texts)

    # warm-up (first batch allocations, lazy imports)
    list(nlp.pipe(texts[:16]))
    tagger.tag_many(arts[:16])

    wall = {"bare": 0.0, "enrich": 0.0}
    cpu = {"bare": 0.0, "enrich": 0.0}
    for _ in range(args.repeat):  # alternate to share machine noise fairly
        for name in ("bare", "enrich"):
            t, c = time.perf_counter(), time.process_time()
            if name == "bare":
                for _doc in nlp.pipe(texts, batch_size=args.batch_size):
                    pass
            else:
                tagger.tag_many(arts, batch_size=args.batch_size)
            wall[name] += time.perf_counter() - t
            cpu[name] += time.process_time() - c

    n = len(texts) * args.repeat
    w = words * args.repeat
    print(
        f"model + gazetteer load: {load_s:.1f}s; {len(texts)} articles, {words} words, "
        f"x{args.repeat} rounds, batch {args.batch_size}"
    )
    print(
        "rates per CPU second of this process (robust to other load on the machine), "
        "wall-clock rates in brackets"
    )
    print(f"{'':18} {'words/s':>10} {'articles/s':>11}   {'(wall words/s)':>15}")
    for label, key in (("bare spaCy NER", "bare"), ("enrich (ours)", "enrich")):
        print(f"{label:18} {w / cpu[key]:10.0f} {n / cpu[key]:11.1f}   ({w / wall[key]:13.0f})")
    print(
        f"enrich / bare NER words per second: {cpu['bare'] / cpu['enrich']:.1%} (CPU), "
        f"{wall['bare'] / wall['enrich']:.1%} (wall)"
    )
    print(f"peak RSS: {peak_rss_mb():.0f} MB")
    print(f"newswire tag start-up (model + gazetteer load, one article): {tag_startup():.1f}s")
    return 0


def tag_startup() -> float:
    """Wall time of `newswire tag` on one short article: process start, model and gazetteer
    load, one article tagged (median of three runs)."""
    import json
    import os
    import statistics
    import subprocess

    exe = Path(sys.executable).with_name("newswire")
    cmd = (
        [str(exe), "tag"]
        if exe.exists()
        else [sys.executable, "-m", "services.entrypoints.cli", "tag"]
    )
    line = json.dumps({"id": "1", "body": SYNTHETIC[0], "language": "en"}) + "\n"
    times = []
    for _ in range(3):
        t = time.perf_counter()
        subprocess.run(
            cmd,
            input=line,
            text=True,
            capture_output=True,
            check=True,
            cwd=ROOT,
            env={**os.environ, "NEWSWIRE_LOG_LEVEL": "WARNING"},
        )
        times.append(time.perf_counter() - t)
    return statistics.median(times)


if __name__ == "__main__":
    raise SystemExit(main())
