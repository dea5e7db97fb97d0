"""JSON records from other tools' exports map onto our fields."""

from __future__ import annotations

import json
from pathlib import Path

from services.ingest.files import read_file
from services.ingest.prepare import prepare


def test_common_export_field_names(tmp_path: Path):
    path = tmp_path / "export.jsonl"
    rows = [
        {
            "headline": "Quake hits Chile",
            "content": "A strong earthquake struck Chile.",
            "link": "https://news.example.test/quake?utm_medium=social",
            "pubDate": "Tue, 02 Jan 2024 10:00:00 +0100",
            "author": "Ana Soto and Luis Vera",
            "source": {"id": "ex", "name": "Example Wire"},
        },
        {"title": "Epoch dated", "text": "Markets rose in Tokyo.", "timestamp": 1704189600000},
    ]
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    items = list(read_file(path))
    first, second = (prepare(i) for i in items)
    assert first.title == "Quake hits Chile"
    assert first.body == "A strong earthquake struck Chile."
    assert first.url == "https://news.example.test/quake"
    assert first.published_at.isoformat() == "2024-01-02T09:00:00+00:00"
    assert first.authors == ["Ana Soto", "Luis Vera"]
    assert first.source == "Example Wire"
    assert second.published_at.isoformat() == "2024-01-02T10:00:00+00:00"
