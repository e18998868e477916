"""Group names and check names shared by assets, checks and sensors."""

RAW_GROUP = "raw"
DIMENSIONS_GROUP = "dimensions"
FACTS_GROUP = "facts"

RAW_DATA_LANDED = "raw_data_landed"
ALL_HOURS_PRESENT = "all_24_hours_present"
ONE_ROW_PER_TRACKED_SHOW = "one_row_per_tracked_show"
UNIQUE_ID_DATE = "unique_id_date"
COUNTS_CONSISTENT = "counts_consistent"

# The TMDB side and the dimensions
TMDB_COVERAGE = "tmdb_coverage"
POPULARITY_REFRESHED = "popularity_refreshed"
NAMED_AND_TAGGED = "every_show_named_and_tagged"
UNIQUE_DATE = "unique_date"
IDS_IN_TVSHOWS = "ids_in_tvshows"
GENRES_IN_GENRES = "genres_id_in_genres"
NETWORKS_IN_NETWORKS = "networks_id_in_networks"
TRENDS_GROUP = "trends"

# Run tag saying what started a run (a lake sensor's name, or "schedule"); the failure alert reports it.
TRIGGER_TAG = "trending_tv/trigger"
