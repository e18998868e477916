"""Derive the project's compact sample-data files from the 2020 project's published tables.

Developer-only, run once by hand with the folder holding the published tables as its argument:

    .venv/bin/python scripts/derive_seed_data.py PATH/TO/PUBLISHED/TABLES

Nothing at run time or in tests reads those tables; they read the files this writes into
trending_tv_sample/data/ (see PROVENANCE.md there).
"""

from __future__ import annotations

import ast
import csv
import re
import sys
from pathlib import Path

import pyarrow.parquet as pq

OUT = Path(__file__).resolve().parent.parent / "trending_tv_sample" / "data"

# Matching aliases: the 2020 list's own names where they differ from TMDB's and are phrases people
# write, plus common spellings. Suffix-only variants ("Arrow CW", "Dark Netflix") are dropped: they
# almost never appear in posts, and as aliases they only add matching work.
ALIASES = {
    71446: ["La Casa de Papel"],
    1408: ["Dr House"],
    62643: ["Legends of Tomorrow"],
    68267: ["Tales of Arcadia"],
    97186: ["Love Victor"],
    1433: ["American Dad"],
    61889: ["Daredevil"],
    58841: ["Chicago PD"],
    62560: ["Mr Robot"],
    1403: ["Agents of SHIELD", "Agents of S.H.I.E.L.D."],
    2734: ["Law & Order: SVU", "Law and Order SVU"],
    32798: ["Hawaii Five-O"],
    48891: ["Brooklyn 99"],
    73671: ["Suburra"],
}
# Extra hashtags people use, curated: the 2020 project added or dropped a leading "The" blindly, which
# made tags nobody writes.
EXTRA_HASHTAGS = {82856: ["#Mandalorian"], 1418: ["#TBBT"], 2734: ["#LawAndOrderSVU"]}
NAME_FIXES = {98034: "Digimon Adventure"}  # the 2020 list kept a trailing colon
NETWORK_COUNTRY_FIXES = {213: "US"}  # Netflix: TMDB's network record says US; the 2020 table had it blank


def hashtag_from_name(name: str) -> str:
    return "#" + re.sub(r"[^0-9A-Za-z]", "", name)


def main(seed: Path) -> None:
    listed = list(csv.DictReader((seed / "tv_shows_list.csv").open(encoding="utf-8")))
    dims = {int(r["id"]): r for r in csv.DictReader((seed / "tvshows.csv").open(encoding="utf-8"))}
    rows = []
    for r in listed:
        show_id = int(r["id"])
        dim = dims[show_id]
        name = NAME_FIXES.get(show_id, dim["name"].strip())
        raw_tag = r["hashtag"].strip()
        tag = raw_tag if raw_tag.startswith("#") and " " not in raw_tag else hashtag_from_name(name)
        hashtags = [tag] + [h for h in EXTRA_HASHTAGS.get(show_id, []) if h.lower() != tag.lower()]
        rows.append(
            {
                "id": show_id,
                "name": name,
                "original_name": dim["original_name"],
                "original_language": dim["original_language"],
                "genres_id": "|".join(str(g) for g in ast.literal_eval(dim["genres_id"])),
                "networks_id": "|".join(str(n) for n in ast.literal_eval(dim["networks_id"])),
                "hashtags": "|".join(hashtags),
                "aliases": "|".join(ALIASES.get(show_id, [])),
                "seed_list_name": r["name"],
                "seed_list_hashtag": r["hashtag"],
            }
        )
    write(OUT / "shows.csv", rows)

    genres = list(csv.DictReader((seed / "genres.csv").open(encoding="utf-8")))
    write(OUT / "genres.csv", genres)
    networks = []
    for n in csv.DictReader((seed / "networks.csv").open(encoding="utf-8")):
        n["origin_country"] = n["origin_country"] or NETWORK_COUNTRY_FIXES.get(int(n["id"]), "")
        networks.append(n)
    write(OUT / "networks.csv", networks)

    tweet = pq.read_table(seed / "tweet_stat").to_pylist()
    tmdb = {(r["id"], r["date"]): r for r in pq.read_table(seed / "tmdb_stat").to_pylist()}
    daily = []
    for t in sorted(tweet, key=lambda r: (r["date"], int(r["id"]))):
        m = tmdb[(int(t["id"]), t["date"])]
        daily.append(
            {
                "id": int(t["id"]),
                "date": t["date"].isoformat(),
                "hashtag_count": t["hashtag_count"],
                "text_count": t["text_count"],
                "tweet_count": t["tweet_count"],
                "popularity": m["popularity"],
                "vote_average": m["vote_average"],
                "vote_count": m["vote_count"],
                "number_of_episodes": m["number_of_episodes"],
                "number_of_seasons": m["number_of_seasons"],
            }
        )
    write(OUT / "daily_stats.csv", daily)
    print(f"wrote {len(rows)} shows, {len(genres)} genres, {len(networks)} networks, {len(daily)} daily rows")


def write(path: Path, rows: list[dict]) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
