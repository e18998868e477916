"""The "tweet_stat at full volume" section of BENCHMARKS.md from one run's figures."""

from __future__ import annotations

import os
import platform
from datetime import date


def _s(x: float) -> str:
    return f"{x:.1f} s"


def _verdict(value: float, target: float) -> str:
    return "meets" if value <= target else "MISSES"


def _runs(m: dict | None) -> str:
    """ ", best of N (a, b, c s)" for a figure that is the best of several runs."""
    walls = (m or {}).get("walls_s")
    if not walls or len(walls) < 2:
        return ""
    return f", best of {len(walls)} ({', '.join(f'{w:.1f}' for w in walls)} s)"


def render_section(r: dict, versions: str, day: date, first: date, last: date) -> str:
    f, size = r.get("floor"), r["sizes"]
    mb_day, mb_all = size["day"][1] / 1e6, size["all"][1] / 1e6
    lines = [
        "## tweet_stat at full volume",
        "",
        f"`python -m trending_tv_tests.bench tweet_stat` (run started {r['started'][:16]} UTC; "
        f"{platform.machine()}, {os.cpu_count()} cores shared with other engineers' work, 1-minute load "
        f"average {r['load_start']:.1f} at the start and {r['load_end']:.1f} at the end; {versions}). "
        "Every row is a fresh process on the same files unless said otherwise; peak RSS is the largest sum "
        "over the process tree (Python, its JVM and PySpark's Python workers), sampled every 50 ms; peak "
        "PSS the same, sampled every 0.5 s, with each shared page divided among the processes that map "
        "it (the workers are forked and share most of their pages, which RSS counts once per worker).",
        "",
        f"Input: the sample generator's full-size days ({first}..{last}, `trending-tv-sample-lake write "
        f"--full-size`): one day ({day}) is {r['files']['day']} files, "
        f"{size['day'][0] / 1e6:,.0f} MB stored, "
        f"{mb_day:,.0f} MB of JSON Lines; the nine days are {r['files']['all']} files, "
        f"{size['all'][0] / 1e6:,.0f} MB stored, {mb_all:,.0f} MB of JSON Lines.",
        "",
        "| run | wall | MB/s | peak RSS | peak PSS | load at start |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]

    def row(name: str, m: dict | None) -> None:
        if m:
            rate = f"{m['mb_per_s']:,.0f}" if "mb_per_s" in m else ""
            pss = f"{m['peak_tree_pss_mb']:,.0f} MB" if m.get("peak_tree_pss_mb") else ""
            rss = f"{m['peak_tree_mb']:,.0f} MB"
            lines.append(f"| {name} | {_s(m['wall_s'])} | {rate} | {rss} | {pss} | {m['load']:.1f} |")

    if f:
        row("`dagster definitions validate` (the CLI's start and code load), best of 3", f["validate"])
        row("Spark local session: JVM and session start, stop, best of 3", f["spark_start"])
        row(f"Spark: start + explicit-schema scan + count, {day}, best of 3", f["scan_day"])
        row(f"Spark: start + explicit-schema scan + count, {first}..{last}, best of 3", f["scan_all"])
    row(
        f"`dagster asset materialize --select tweet_stat --partition {day}` (cold){_runs(r.get('day'))}",
        r.get("day"),
    )
    row(
        f"the same, `--partition-range {first}...{last}` (one run){_runs(r.get('backfill'))}",
        r.get("backfill"),
    )
    for i, warm in enumerate((r.get("warm") or {}).get("runs", []), start=1):
        row(f"the day through a warm Spark Connect server, run {i} of 3 (CLI process tree only)", warm)
    row(f"2020 ETL ported to Spark 4, {day} (cold, `spark-submit`-like process)", r.get("etl2020"))
    lines.append("")
    ratios = _timed_ratios(r)
    warm = (r.get("warm") or {}).get("runs")
    if warm and f:
        ratios.append(
            (
                "warm day (best of runs 2-3) / floor of the day",
                min(w["wall_s"] for w in warm[1:]) / (f["validate"]["wall_s"] + f["scan_day"]["wall_s"]),
                None,
            )
        )
    m = r.get("matcher")
    if m:
        ratios.append(
            (
                f"matcher CPU, 2,000 shows / {m['shows_small']} shows",
                m["2000"]["cpu_s"] / m[str(m["shows_small"])]["cpu_s"],
                1.2,
            )
        )
    d = r.get("duckdb")
    if d and r.get("day"):
        duck_day = d["days"][str(day)]["wall_s"]
        ratios.append(
            (f"one cold day / DuckDB's day ({_s(duck_day)}, in process)", r["day"]["wall_s"] / duck_day, None)
        )
    if ratios:
        lines += ["| ratio | value | target |", "| --- | ---: | --- |"]
        for name, value, target in ratios:
            if target is None:
                goal = ">= 1.6: " + _verdict(1.6, value) if "2020" in name else "reported"
            else:
                goal = f"<= {target}: {_verdict(value, target)}"
            lines.append(f"| {name} | {value:.2f}x | {goal} |")
        lines.append("")
    peaks = [(k, r[k]) for k in ("day", "backfill") if r.get(k)]
    if peaks:
        lines.append(
            "Driver peak memory (Dagster's Python process, the local JVM and its Python workers, as PSS; the "
            "largest of the runs): "
            + "; ".join(
                f"{k}: {v.get('peak_tree_pss_mb', 0):,.0f} MB (RSS {v['peak_tree_mb']:,.0f} MB, "
                f"JVM alone {v['peak_java_mb']:,.0f} MB)"
                for k, v in peaks
            )
            + " (target <= 2 GB: "
            + _verdict(max(v.get("peak_tree_pss_mb", 0) for _, v in peaks), 2048)
            + ")."
        )
        lines.append("")
    if r.get("warm"):
        lines += [
            "The warm server (started once, not timed; the same Spark settings but the JVM's default "
            f"compilers) held {r['warm']['server_rss_mb']:,.0f} MB after its three runs.",
            "",
        ]
    if m:
        lines += [
            f"Matcher alone (one core, best of 3, {m['posts']:,} distinct posts of {day}):",
            "",
            "| tracked shows | CPU s | posts per CPU-second | matches |",
            "| ---: | ---: | ---: | ---: |",
        ]
        for n in (str(m["shows_small"]), "2000"):
            lines.append(
                f"| {int(n):,} | {m[n]['cpu_s']:.2f} | {m[n]['posts_per_cpu_s']:,.0f} | {m[n]['matches']:,} |"
            )
        lines.append("")
    if d:
        lines += [
            f"DuckDB (in process, 2 threads) from the counting rules: equal to ours row for row on "
            f"{d['equal_days']} of {len(d['days'])} days; nine days {_s(d['all_wall_s'])}.",
            "",
            "| day | wall | equal |",
            "| --- | ---: | --- |",
        ]
        for k, v in d["days"].items():
            lines.append(f"| {k} | {_s(v['wall_s'])} | {'yes' if v['equal'] else 'NO'} |")
        lines.append("")
    s = r.get("seal")
    if s:
        lines += [
            "Sealing one day (`raw_manifest.seal_tweet_day`):",
            "",
            "| lake | wall | lines from |",
            "| --- | ---: | --- |",
        ]
        for k, v in s.items():
            lines.append(f"| {k} | {v['wall_s']:.2f} s | {v.get('lines_from') or 'read'} |")
        lines.append("")
    if r.get("repeat"):
        lines += _repeat_rows(r, r["repeat"], day, first, last)
    return "\n".join(lines) + "\n"


def _timed_ratios(r: dict) -> list[tuple[str, float, float | None]]:
    """The ratios of one round of the timed sections (floor, day, backfill, etl2020)."""
    f, ratios = r.get("floor"), []
    if f and r.get("day"):
        floor_day = f["validate"]["wall_s"] + f["scan_day"]["wall_s"]
        ratio = r["day"]["wall_s"] / floor_day
        ratios.append(
            (f"one cold day / floor (validate + start + scan of the day = {_s(floor_day)})", ratio, 1.3)
        )
    if f and r.get("backfill"):
        floor_all = f["validate"]["wall_s"] + f["scan_all"]["wall_s"]
        ratio = r["backfill"]["wall_s"] / floor_all
        ratios.append((f"nine-day backfill / floor of the nine days (= {_s(floor_all)})", ratio, 1.3))
    if r.get("etl2020") and r.get("day"):
        ratios.append(
            (
                "ported 2020 ETL / one cold day (how much faster we are)",
                r["etl2020"]["wall_s"] / r["day"]["wall_s"],
                None,
            )
        )
    return ratios


def _repeat_rows(first_round: dict, second_round: dict, day: date, first: date, last: date) -> list[str]:
    """Both rounds side by side: each wall time, its spread, and each ratio."""
    names = [
        (("floor", "validate"), "`dagster definitions validate`"),
        (("floor", "spark_start"), "Spark start, stop"),
        (("floor", "scan_day"), f"Spark start + scan, {day}"),
        (("floor", "scan_all"), f"Spark start + scan, {first}..{last}"),
        (("day",), f"materialize tweet_stat {day} (cold)"),
        (("backfill",), "materialize the nine days (one run)"),
        (("etl2020",), "2020 ETL ported to Spark 4"),
    ]
    out = [
        "Second round, minutes later in the same run (do the figures reproduce?):",
        "",
        "| run | first round | second round | difference |",
        "| --- | ---: | ---: | ---: |",
    ]
    for path, label in names:
        a, b = first_round, second_round
        for key in path:
            a, b = (a or {}).get(key), (b or {}).get(key)
        if a and b:
            change = (b["wall_s"] - a["wall_s"]) / a["wall_s"]
            out.append(f"| {label} | {_s(a['wall_s'])} | {_s(b['wall_s'])} | {change:+.0%} |")
    out += ["", "| ratio | first round | second round |", "| --- | ---: | ---: |"]
    pairs = zip(_timed_ratios(first_round), _timed_ratios(second_round), strict=False)
    for (name, one, _), (_, two, _) in pairs:
        out.append(f"| {name.split(' (')[0]} | {one:.2f}x | {two:.2f}x |")
    return [*out, ""]
