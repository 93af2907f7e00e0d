"""The load pipeline: every format in, every bad file reported, reloads add nothing, and a
load killed mid-way resumes without duplicates or half-loaded files."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from memgpt.embeddings.hash import HashEmbedder
from memgpt.ingest.loaders import LoadOptions
from memgpt.ingest.pipeline import LoadSettings, load_into_source
from memgpt.ingest.progress import PlainProgress
from memgpt.schemas import EmbeddingConfig
from memgpt.store.base import Source
from memgpt.store.dialects.sqlite import SQLiteStore
from tests.ingest.docs import BAD, GOOD, bad_folder, good_folder


@pytest.fixture
def store(tmp_path):
    s = SQLiteStore(tmp_path / "m.db")
    yield s
    s.close()


def new_source(store, name="docs") -> Source:
    source = Source(name=name, embedding=EmbeddingConfig(provider="hash"))
    store.create_source(source)
    return source


def load(store, source, path, **settings):
    return load_into_source(store, HashEmbedder(), source, path, LoadSettings(**settings))


def passages(store, source):
    return store._execute(
        "SELECT p.*, f.path FROM passages p JOIN source_files f ON f.pk = p.file_pk"
        " WHERE p.source_id = ?",
        (source.id,),
    ).fetchall()


def test_every_format_loads_with_file_and_page(store, tmp_path):
    source = new_source(store)
    summary = load(store, source, good_folder(tmp_path / "docs"))
    assert summary.count("loaded") == len(GOOD) + 2 and summary.count("failed") == 0
    rows = passages(store, source)
    files = {Path(r["path"]).name for r in rows}
    assert files == {*GOOD, "report.pdf", "letter.docx"}
    pdf_pages = {r["page"] for r in rows if r["path"].endswith(".pdf")}
    assert pdf_pages == {1, 2}
    assert all(r["chunk_hash"] and r["embedding"] for r in rows)
    assert {f.status for f in store.list_files(source.id)} == {"done"}


def test_bad_files_get_one_line_each_and_the_rest_loads(store, tmp_path):
    folder = bad_folder(tmp_path / "docs")
    (folder / "good.txt").write_text("A good file among bad ones.")
    source = new_source(store)
    summary = load(store, source, folder, options=LoadOptions(max_bytes=5000))
    failed = [f for f in summary.files if f.status == "failed"]
    assert {Path(f.path).name for f in failed} == {*BAD, "locked.pdf", "huge.txt"}
    lines = summary.lines()
    for f in failed:
        line = next(line for line in lines if f.path in line)
        assert line.startswith("failed") and line.endswith(".")
    assert summary.count("loaded") == 1
    rows = passages(store, source)
    assert {Path(r["path"]).name for r in rows} == {"good.txt"}
    statuses = {Path(f.path).name: f.status for f in store.list_files(source.id)}
    assert statuses["good.txt"] == "done" and statuses["locked.pdf"] == "failed"


def test_missing_path_is_reported(store, tmp_path):
    summary = load(store, new_source(store), tmp_path / "nowhere")
    assert summary.count("failed") == 1
    assert "no such file" in summary.lines()[1]


def test_reloading_adds_nothing_and_a_changed_file_adds_only_new_text(store, tmp_path):
    folder = good_folder(tmp_path / "docs")
    source = new_source(store)
    first = load(store, source, folder)
    count = len(passages(store, source))
    again = load(store, source, folder)
    assert again.passages == 0 and again.count("skipped") == first.count("loaded")
    assert len(passages(store, source)) == count
    with open(folder / "notes.txt", "a") as f:
        f.write("\n\nA brand new paragraph about badgers.")
    third = load(store, source, folder, max_tokens=20, overlap_tokens=0)
    assert third.count("loaded") == 1
    assert any("badgers" in r["text"] for r in passages(store, source))
    hashes = [r["chunk_hash"] for r in passages(store, source)]
    assert len(hashes) == len(set(hashes))


def test_plain_progress_prints_a_line_per_file(store, tmp_path):
    out = tmp_path / "progress.txt"
    with open(out, "w") as f:
        load_into_source(
            store, HashEmbedder(), new_source(store), good_folder(tmp_path / "docs"),
            progress=PlainProgress(f),
        )  # fmt: skip
    lines = out.read_text().splitlines()
    assert sum(line.startswith("[") for line in lines) == len(GOOD) + 2
    assert "passages" in lines[0] and "left" in lines[0]


CHILD = """
import sys, time
from memgpt.embeddings.hash import HashEmbedder
from memgpt.ingest.pipeline import LoadSettings, load_into_source
from memgpt.ingest.progress import PlainProgress
from memgpt.store.dialects.sqlite import SQLiteStore

class Slow(HashEmbedder):
    def embed(self, texts):
        time.sleep(0.05)  # widen the window a kill lands in
        return super().embed(texts)

store = SQLiteStore(sys.argv[1])
source = store.get_source("docs")
load_into_source(store, Slow(), source, sys.argv[2], LoadSettings(batch_size=4, max_tokens=24,
                 overlap_tokens=4), PlainProgress(sys.stdout))
"""


def make_many(folder: Path, n: int) -> Path:
    folder.mkdir()
    for i in range(n):
        text = " ".join(
            f"File {i} sentence {j} tells about topic {i * 100 + j}." for j in range(12)
        )
        (folder / f"doc{i:03}.txt").write_text(text)
    return folder


def test_a_killed_load_resumes_without_duplicates(tmp_path):
    folder = make_many(tmp_path / "docs", 40)
    db = tmp_path / "m.db"
    store = SQLiteStore(db)
    source = new_source(store)
    store.close()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2] / "src")}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(db), str(folder)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    for _ in range(5):  # let a few files commit, then kill mid-load
        assert child.stdout.readline().startswith("[")
    time.sleep(0.03)
    child.send_signal(signal.SIGKILL)
    child.wait()

    store = SQLiteStore(db)
    assert store.integrity_check() == "ok"
    done = store.list_files(source.id)
    assert 5 <= len(done) < 40
    for f in done:  # each file is all in or all out
        n = store._execute("SELECT COUNT(*) FROM passages p JOIN source_files f ON f.pk = p.file_pk"
                           " WHERE f.path = ?", (f.path,)).fetchone()[0]  # fmt: skip
        assert n == f.passages > 0
    summary = load(store, source, folder, batch_size=4, max_tokens=24, overlap_tokens=4)
    assert summary.count("skipped") == len(done)
    assert len(store.list_files(source.id)) == 40

    clean = SQLiteStore(tmp_path / "clean.db")
    clean_source = new_source(clean)
    load(clean, clean_source, folder, batch_size=4, max_tokens=24, overlap_tokens=4)
    mine = sorted(r["chunk_hash"] for r in passages(store, source))
    assert mine == sorted(r["chunk_hash"] for r in passages(clean, clean_source))
    assert len(mine) == len(set(mine))
    store.close()
    clean.close()
