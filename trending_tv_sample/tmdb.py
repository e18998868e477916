"""The sample's daily TMDB pull: one `/tv/{id}` response per line, as tmdbv3api would return it.

Each record has TMDB's shape (origin_country a list, genres `[{id,name}]`, networks with
`logo_path` and a string `origin_country`, ...) filled from `data/shows.csv`, `genres.csv`,
`networks.csv` and the day's published figures. Fields the sample has no facts for stay at the
empty values TMDB itself uses (`""`, `null`, `[]`). Each day also carries the bad lines a real pull
produces: error bodies (404 for a removed id, 429 when throttled) and one record fetched twice.
"""

from __future__ import annotations

import json
from datetime import date

from trending_tv_sample.catalog import Catalog, Show

# Production country by original language where it is not the network's (facts of these shows).
_COUNTRY_BY_LANGUAGE = {"ja": "JP", "ko": "KR", "es": "ES", "de": "DE", "it": "IT"}
_COUNTRY_OVERRIDES = {104555: "CO"}  # The Great Heist is Colombian
_LANGUAGE_NAMES = {
    "en": ("English", "English"),
    "ja": ("Japanese", "日本語"),
    "ko": ("Korean", "한국어/조선말"),
    "es": ("Spanish", "Español"),
    "de": ("German", "Deutsch"),
    "it": ("Italian", "Italiano"),
}
REALITY_GENRE = 10764
NOT_FOUND_BODY = {
    "success": False,
    "status_code": 34,
    "status_message": "The resource you requested could not be found.",
}
RATE_LIMIT_BODY = {
    "success": False,
    "status_code": 25,
    "status_message": "Your request count (41) is over the allowed limit of (40).",
}
REFETCHED_SHOW_INDEX = 16  # this show's record appears twice each day (a retried request)


def origin_country(show: Show, catalog: Catalog) -> list[str]:
    if show.id in _COUNTRY_OVERRIDES:
        return [_COUNTRY_OVERRIDES[show.id]]
    if show.original_language in _COUNTRY_BY_LANGUAGE:
        return [_COUNTRY_BY_LANGUAGE[show.original_language]]
    countries = [catalog.networks[n].origin_country for n in show.network_ids]
    return [next((c for c in countries if c), "US")]


def tmdb_record(show: Show, day: date, catalog: Catalog) -> dict:
    """The TMDB /tv/{id} response for `show` as pulled on `day`."""
    figures = catalog.figures_for(day, show.id)
    english, native = _LANGUAGE_NAMES[show.original_language]
    return {
        "adult": False,
        "backdrop_path": None,
        "created_by": [],
        "episode_run_time": [],
        "genres": [{"id": g, "name": catalog.genres[g]} for g in show.genre_ids],
        "homepage": "",
        "id": show.id,
        "languages": [show.original_language],
        "name": show.name,
        "networks": [
            {
                "id": n,
                "name": catalog.networks[n].name,
                "logo_path": None,
                "origin_country": catalog.networks[n].origin_country,
            }
            for n in show.network_ids
        ],
        "number_of_episodes": figures.number_of_episodes,
        "number_of_seasons": figures.number_of_seasons,
        "origin_country": origin_country(show, catalog),
        "original_language": show.original_language,
        "original_name": show.original_name,
        "overview": "",
        "popularity": figures.popularity,
        "poster_path": None,
        "production_companies": [],
        "spoken_languages": [{"english_name": english, "iso_639_1": show.original_language, "name": native}],
        "tagline": "",
        "type": "Reality" if REALITY_GENRE in show.genre_ids else "Scripted",
        "vote_average": figures.vote_average,
        "vote_count": figures.vote_count,
    }


def tmdb_day_lines(day: date, catalog: Catalog) -> list[str]:
    """The day's file as JSON lines: every tracked show once (one of them twice), plus a 404 and a
    429 error body where the pull hit a removed id and the rate limit."""
    lines = []
    for index, show in enumerate(catalog.shows):
        lines.append(json.dumps(tmdb_record(show, day, catalog), sort_keys=True, ensure_ascii=False))
        if index == 40:
            lines.append(json.dumps(NOT_FOUND_BODY, sort_keys=True))
        if index == 100:
            lines.append(json.dumps(RATE_LIMIT_BODY, sort_keys=True))
    refetched = catalog.shows[REFETCHED_SHOW_INDEX]
    lines.append(json.dumps(tmdb_record(refetched, day, catalog), sort_keys=True, ensure_ascii=False))
    return lines
