"""`python -m memgpt.server` runs, serves the SDK, and `create-key` makes working keys."""

from __future__ import annotations

import subprocess
import sys

from memgpt.bench import server as bench


def test_server_process_serves_messages():
    result = bench.run(messages=3)  # starts `python -m memgpt.server` and talks to it
    assert result["cold_start_s"] > 0 and result["rss_mb"] > 0


def test_create_key_makes_a_key_the_server_accepts(tmp_path):
    db = tmp_path / "keys.db"
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "memgpt.server",
            "create-key",
            "--org",
            "acme",
            "--user",
            "ana",
            "--database",
            str(db),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    key = next(line.split()[2] for line in out.splitlines() if line.startswith("api key"))
    from memgpt.store.accounts import accounts_for
    from memgpt.store.dialects.sqlite import SQLiteStore

    store = SQLiteStore(db)
    try:
        user = accounts_for(store).authenticate(key)
        assert user is not None and user.name == "ana"
        assert accounts_for(store).authenticate(key[:-1] + "x") is None
    finally:
        store.close()


def test_refuses_keyless_access_off_loopback(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "memgpt.server",
            "--host",
            "0.0.0.0",
            "--no-auth",
            "--database",
            str(tmp_path / "d.db"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "loopback" in result.stderr


def test_agent_messaging_and_sleep_time_settings_come_from_the_flags(tmp_path, capsys):
    from memgpt.server.__main__ import main

    code = main(["--agent-fan-out", "0", "--no-auth", "--database", str(tmp_path / "d.db")])
    assert code == 2 and "--agent-fan-out to 1 or more" in capsys.readouterr().err
    code = main(["--sleeptime-frequency", "0", "--no-auth", "--database", str(tmp_path / "d.db")])
    assert code == 2 and "--sleeptime-frequency to 1 or more" in capsys.readouterr().err
