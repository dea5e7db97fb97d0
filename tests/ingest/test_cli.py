"""`newswire feeds ...` and `newswire ingest DIR` in embedded mode on PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from services.entrypoints.cli import cli
from tests.ingest import stories
from tests.ingest.helpers import Sent, Site
from tests.ingest.test_textdump import DUMP


def test_feeds_commands(ingest_pg: str, site: Site, sent: Sent) -> None:
    site.add(
        "/feed.json",
        stories.json_feed(
            [
                {
                    "id": "1",
                    "url": "https://herald.example/harbour",
                    "title": "Harbour wall to be rebuilt",
                    "content_text": stories.body(stories.HARBOUR),
                    "date_published": "2023-12-06T09:15:00+01:00",
                }
            ]
        ),
        content_type="application/feed+json",
    )
    runner = CliRunner()
    added = runner.invoke(cli, ["feeds", "add", site.url("/feed.json"), "--interval", "10m"])
    assert added.exit_code == 0, added.output
    assert "every 600 s" in added.output
    again = runner.invoke(cli, ["feeds", "add", site.url("/feed.json")])
    assert again.exit_code == 1 and "already exists" in again.output
    bad = runner.invoke(cli, ["feeds", "add", "https://x.example/f", "--interval", "5s"])
    assert bad.exit_code == 1 and "interval" in bad.output

    polled = runner.invoke(cli, ["feeds", "poll", "--json"])
    assert polled.exit_code == 0, polled.output
    result = json.loads(polled.output.strip().splitlines()[-1])
    assert result["status"] == "ok" and result["counts"] == {"queued": 1}
    assert "no feed is due" in runner.invoke(cli, ["feeds", "poll"]).output

    listed = runner.invoke(cli, ["feeds", "list", "--json"])
    [row] = [json.loads(line) for line in listed.output.strip().splitlines()]
    assert row["title"] == "JSON Herald" and row["last_status"] == "ok" and row["items_seen"] == 1

    assert runner.invoke(cli, ["feeds", "remove", str(row["id"])]).exit_code == 0
    assert "no feeds" in runner.invoke(cli, ["feeds", "list"]).output
    assert runner.invoke(cli, ["feeds", "remove", "99"]).exit_code == 1


def test_ingest_directory_summary(ingest_pg: str, site: Site, sent: Sent, tmp_path: Path) -> None:
    site.add("/frost", stories.page("Frost halves the apple harvest", stories.ORCHARD))
    root = tmp_path / "in"
    (root / "sub").mkdir(parents=True)
    (root / "a.jsonl").write_text(
        json.dumps({"title": "Harbour", "text": stories.body(stories.HARBOUR)})
        + "\n{broken\n"
        + json.dumps({"title": "Harbour", "text": stories.body(stories.HARBOUR)})
        + "\n"
    )
    (root / "sub" / "dump.txt").write_text(DUMP.replace("Harbour wall", "Quay wall"))
    (root / "sub" / "sitemap.xml").write_text(stories.sitemap([(site.url("/frost"), "2023-12-05")]))
    (root / "sub" / "notes.pdf").write_bytes(b"%PDF")  # not picked up from a directory
    result = CliRunner().invoke(cli, ["ingest", str(root)])
    assert result.exit_code == 1, result.output  # some rejected
    assert "summary: 5 read, 3 queued, 1 duplicate, 1 rejected, 1 skipped" in result.output
    assert result.output.count("invalid JSON Lines record") == 1  # one line per reason
    assert f"skipped {root / 'sub' / 'notes.pdf'}: unsupported file type .pdf" in result.output
    assert sorted(a["title"] for a in sent.articles()) == [
        "Frost halves the apple harvest",
        "Harbour",
        "Quay wall to be rebuilt after winter storms",
    ]
