"""The shipped deployment files refer to real subcommands and are well formed."""

from __future__ import annotations

import configparser
import re
import subprocess
from pathlib import Path

from click.testing import CliRunner

from ingest_host.cli import main

DEPLOY = Path(__file__).resolve().parents[2] / "ingest_host" / "deploy"
COMMANDS = set(main.commands)


def _unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(path)
    return parser


def test_systemd_units_run_existing_subcommands_with_the_env_file():
    services = sorted((DEPLOY / "systemd").glob("*.service"))
    assert {p.stem for p in services} == {
        "ingest-host-stream",
        "ingest-host-upload",
        "ingest-host-fetch-tmdb",
        "ingest-host-refresh-shows",
    }
    for path in services:
        unit = _unit(path)
        command = unit["Service"]["ExecStart"].split()
        assert command[0] == "/opt/trending-tv/venv/bin/ingest-host" and command[1] in COMMANDS
        assert unit["Service"]["EnvironmentFile"] == "/etc/trending-tv/ingest.env"
        assert unit["Service"]["User"] == "trending-tv"
    stream = _unit(DEPLOY / "systemd" / "ingest-host-stream.service")["Service"]
    assert stream["Restart"] == "always" and stream["KillSignal"] == "SIGTERM"
    for timer in (DEPLOY / "systemd").glob("*.timer"):
        assert (DEPLOY / "systemd" / f"{timer.stem}.service").exists()
        assert _unit(timer)["Timer"]["OnCalendar"].endswith("UTC")


def test_crontab_lines_are_valid_and_use_existing_subcommands():
    entries = [
        line
        for line in (DEPLOY / "crontab.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#") and "=" not in line.split()[0]
    ]
    assert len(entries) == 4
    for line in entries:
        fields = line.split()
        assert all(re.fullmatch(r"[\d*,/-]+", f) for f in fields[:5]), line
        used = re.search(r"ingest-host --env-file \S+ (\S+)", line)
        assert used and used.group(1) in COMMANDS, line


def test_install_script_is_valid_bash():
    subprocess.run(["bash", "-n", str(DEPLOY / "install.sh")], check=True)
    assert "[ingest]" in (DEPLOY / "install.sh").read_text()


def test_every_subcommand_has_help():
    runner = CliRunner()
    for name in COMMANDS:
        result = runner.invoke(main, [name, "--help"])
        assert result.exit_code == 0 and "Usage" in result.output
