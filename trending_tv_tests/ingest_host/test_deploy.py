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
    assert {p.stem for p in services} >= {
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


def _seconds(value: str) -> float:
    """A systemd time span (5s, 15min, 1h 30min, bare seconds) in seconds."""
    units = {"ms": 0.001, "s": 1, "sec": 1, "min": 60, "m": 60, "h": 3600, "hr": 3600}
    total = 0.0
    for number, unit in re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]*)", value):
        total += float(number) * units[unit or "s"]
    return total


def test_the_stream_backs_off_instead_of_restarting_every_few_seconds():
    unit = _unit(DEPLOY / "systemd" / "ingest-host-stream.service")
    service = unit["Service"]
    assert unit["Unit"]["StartLimitIntervalSec"] == "0"  # never gives up ...
    first, steps, longest = (
        _seconds(service["RestartSec"]),
        int(service["RestartSteps"]),
        _seconds(service["RestartMaxDelaySec"]),
    )
    assert first >= 5 and steps >= 5 and longest >= 10 * 60  # ... but waits up to 15 min between tries
    # exit 2 (configuration) and 3 (credentials refused) never restart; 4 (disk full) restarts, backing off
    assert set(service["RestartPreventExitStatus"].split()) == {"2", "3"}
    install = (DEPLOY / "install.sh").read_text()
    assert "RestartSec=60s" in install and "-lt 254" in install  # older systemd: a fixed 60 s drop-in


def test_a_busy_upload_is_not_a_failed_unit():
    service = _unit(DEPLOY / "systemd" / "ingest-host-upload.service")["Service"]
    assert service["SuccessExitStatus"].split() == ["5"]
    from ingest_host.upload import EXIT_BUSY

    assert EXIT_BUSY == 5


def test_crontab_lines_are_valid_and_use_existing_subcommands():
    entries = [
        line
        for line in (DEPLOY / "crontab.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#") and "=" not in line.split()[0]
    ]
    used = {}
    for line in entries:
        fields = line.split()
        assert all(re.fullmatch(r"[\d*,/-]+", f) for f in fields[:5]), line
        command = re.search(r"ingest-host --env-file \S+ (\S+)", line)
        assert command and command.group(1) in COMMANDS, line
        used[command.group(1)] = line
    # cron runs what the systemd units run
    services = {
        _unit(path)["Service"]["ExecStart"].split()[1] for path in (DEPLOY / "systemd").glob("*.service")
    }
    assert set(used) == services and len(entries) == len(services) == 5
    assert (
        used["fetch-counts"].startswith("30 0 * * * ") and "fetch-counts --catch-up" in used["fetch-counts"]
    )


def test_install_script_installs_every_unit_and_starts_every_timer():
    install = (DEPLOY / "install.sh").read_text().replace("\\\n", " ")
    match = re.search(r'^UNITS="([^"]*)"', install, re.MULTILINE)
    assert match
    assert set(match.group(1).split()) == {path.name for path in (DEPLOY / "systemd").iterdir()}
    timers = {path.name for path in (DEPLOY / "systemd").glob("*.timer")}
    assert "ingest-host-fetch-counts.timer" in timers
    for verb in ("enable", "start"):
        line = re.search(rf"systemctl {verb} (.*)", install)
        assert line and timers <= set(line.group(1).split()), verb
    # the settings template names only settings the ingest host reads (no retired ones)
    config = (Path(__file__).resolve().parents[2] / "ingest_host" / "config.py").read_text()
    template = install[install.index("<<'ENV'") : install.index("\nENV\n")]
    named = set(re.findall(r"\b(TRENDING_TV_\w+)=", template))
    assert {"TRENDING_TV_STREAM_BUDGET_USD", "TRENDING_TV_MONTHLY_SPEND_LIMIT_USD"} <= named
    for name in named:
        assert re.search(rf'env, "{name}"|env.get\("{name}"', config), name


def test_install_script_is_valid_bash():
    subprocess.run(["bash", "-n", str(DEPLOY / "install.sh")], check=True)
    assert "[ingest]" in (DEPLOY / "install.sh").read_text()


def test_every_subcommand_has_help():
    runner = CliRunner()
    for name in COMMANDS:
        result = runner.invoke(main, [name, "--help"])
        assert result.exit_code == 0 and "Usage" in result.output
