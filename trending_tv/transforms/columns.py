"""What each column of the tables means (docs/design.md, "Table schemas"), for the catalog's
`dagster/column_schema` and the analyst CLI; Dagster-free, so the CLI starts without loading Dagster.
show_volume's and show_trends' own are next to their schemas, in trending_tv.transforms.show_volume
and trending_tv.transforms.trends."""

SHOW_ID = "TMDB id of the tracked show"
COLUMN_DESCRIPTIONS: dict[str, dict[str, str]] = {
    "tweet_stat": {
        "id": SHOW_ID,
        "date": "UTC day the posts were created",
        "hashtag_count": "posts that day carrying one of the show's hashtags",
        "text_count": "posts that day naming the show (name or alias, as a whole phrase) in their text",
        "tweet_count": "distinct posts counted by hashtag or by text: max(hashtag, text) <= it <= their sum",
    },
    "tmdb_stat": {
        "id": SHOW_ID,
        "date": "UTC day the TMDB snapshot was taken (fetched at 23:30 UTC)",
        "number_of_seasons": "seasons, as TMDB says (null when TMDB had none or sent the wrong type)",
        "number_of_episodes": "episodes, as TMDB says (null when TMDB had none)",
        "vote_count": "TMDB votes",
        "vote_average": "TMDB average vote, 0 to 10",
        "popularity": "TMDB popularity score that day",
    },
    "tvshows": {
        "id": SHOW_ID,
        "name": "TMDB's name when TMDB answered that day, else the tracked list's",
        "original_name": "TMDB's original name (null when blank or absent)",
        "original_language": "TMDB's original language code (null when blank or absent)",
        "genres_id": "TMDB genre ids, in TMDB's order (genres.id)",
        "networks_id": "TMDB network ids, in TMDB's order (networks.id)",
        "hashtags": "hashtags posts are matched on (the tracked list)",
        "aliases": "other names posts are matched on, as whole phrases (the tracked list)",
        "date": "UTC day of the snapshot",
    },
    "genres": {
        "id": "TMDB genre id",
        "name": "genre name, as TMDB gives it",
        "date": "UTC day of the snapshot",
    },
    "networks": {
        "id": "TMDB network id",
        "name": "network name, as TMDB gives it",
        "origin_country": "TMDB's country code of the network (empty only when TMDB has none)",
        "date": "UTC day of the snapshot",
    },
    "date": {
        "date": "UTC day (day, month and year are the partition folders year=/month=/day=)",
        "weekday": "ISO weekday, 1 = Monday .. 7 = Sunday",
    },
}
