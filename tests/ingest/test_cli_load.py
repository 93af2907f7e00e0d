"""`memgpt load` as a command: summary lines, exit status, attaching, and a reload adding nothing."""

from __future__ import annotations

import click
from click.testing import CliRunner

from memgpt.cli.load import load
from memgpt.client import MemGPT
from memgpt.embeddings.hash import HashEmbedder
from memgpt.llm.scripted import ScriptedLLM
from memgpt.schemas import EmbeddingConfig
from tests.ingest.docs import good_folder


@click.group()
def app() -> None:
    """A tiny app standing in for the real `memgpt` group."""


app.add_command(load)


def test_load_then_attach_then_reload(tmp_path, monkeypatch):
    monkeypatch.setenv("MEMGPT_HOME", str(tmp_path / "home"))
    client = MemGPT()
    client.create_agent(
        "sam",
        llm=ScriptedLLM([]),
        embedding=EmbeddingConfig(provider="hash"),
        embedder=HashEmbedder(),
    )
    client.close()
    folder = good_folder(tmp_path / "docs")
    (folder / "broken.json").write_text("{nope")
    runner = CliRunner()

    first = runner.invoke(
        app,
        [
            "load",
            str(folder),
            "--source",
            "docs",
            "--embedding",
            "hash",
            "--agent",
            "sam",
            "--plain",
        ],
    )
    assert first.exit_code == 1, first.output  # one file failed; the others loaded
    assert "7 file(s) loaded, 0 skipped, 1 failed" in first.output
    assert "failed   " in first.output and "broken.json: is not valid JSON" in first.output
    assert "Attached source 'docs' to agent 'sam'." in first.output

    (folder / "broken.json").unlink()
    again = runner.invoke(app, ["load", str(folder), "--source", "docs", "--plain"])
    assert again.exit_code == 0, again.output
    assert "0 file(s) loaded, 7 skipped, 0 failed; 0 new passage(s)." in again.output

    client = MemGPT()
    assert [s.name for s in client.attached_sources("sam")] == ["docs"]
    client.close()
