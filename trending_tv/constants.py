"""Group names and check names shared by assets, checks and sensors."""

RAW_GROUP = "raw"
DIMENSIONS_GROUP = "dimensions"
FACTS_GROUP = "facts"

RAW_DATA_LANDED = "raw_data_landed"
ALL_HOURS_PRESENT = "all_24_hours_present"
ONE_ROW_PER_TRACKED_SHOW = "one_row_per_tracked_show"
UNIQUE_ID_DATE = "unique_id_date"
COUNTS_CONSISTENT = "counts_consistent"
