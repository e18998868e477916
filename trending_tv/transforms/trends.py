"""show_trends: which shows are trending each day, from tweet_stat (and tmdb_stat when present).

Volumes are sampled under the stream's hourly cap, so a show's daily *share* of the matched posts
is the comparable measure across days (seed weakness 1); the trend score is the z-score of today's
share against the show's own trailing baseline (weakness 23)."""

from __future__ import annotations

from datetime import date

from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F
from pyspark.sql import types as T

BASELINE_DAYS = 7
MIN_BASELINE_DAYS = 3  # fewer days of history: no z-score, ranked by volume

SHOW_TRENDS_SCHEMA = T.StructType(
    [
        T.StructField("id", T.LongType()),
        T.StructField("date", T.DateType()),
        T.StructField("name", T.StringType()),
        T.StructField("tweet_count", T.LongType()),
        T.StructField("hashtag_count", T.LongType()),
        T.StructField("text_count", T.LongType()),
        T.StructField("share", T.DoubleType()),
        T.StructField("tweet_count_change", T.LongType()),
        T.StructField("baseline_days", T.IntegerType()),
        T.StructField("baseline_share", T.DoubleType()),
        T.StructField("zscore", T.DoubleType()),
        T.StructField("popularity", T.DoubleType()),
        T.StructField("popularity_change", T.DoubleType()),
        T.StructField("rank", T.IntegerType()),
    ]
)


def compute_show_trends(
    tweet_stat: DataFrame, names: DataFrame, tmdb_stat: DataFrame | None, days: list[date]
) -> DataFrame:
    """Scores for `days`. `tweet_stat` must also hold the BASELINE_DAYS before the first day (when
    they exist); `names` is (id, date, name); `tmdb_stat` (id, date, popularity) may be None."""
    daily_total = Window.partitionBy("date")
    history = Window.partitionBy("id").orderBy(F.unix_date("date"))
    baseline = history.rangeBetween(-BASELINE_DAYS, -1)
    previous_day = history.rangeBetween(-1, -1)
    scored = (
        tweet_stat.withColumn("total", F.sum("tweet_count").over(daily_total))
        .withColumn("share", F.when(F.col("total") > 0, F.col("tweet_count") / F.col("total")).otherwise(0.0))
        .withColumn("baseline_days", F.count("share").over(baseline).cast("int"))
        .withColumn("baseline_share", F.avg("share").over(baseline))
        .withColumn("baseline_std", F.stddev_pop("share").over(baseline))
        .withColumn("previous_count", F.sum("tweet_count").over(previous_day))
        .withColumn(
            "zscore",
            F.when(
                F.col("baseline_days") >= MIN_BASELINE_DAYS,
                # a floor on the spread keeps a flat history from turning one post into a huge score
                (F.col("share") - F.col("baseline_share")) / F.greatest(F.col("baseline_std"), F.lit(0.001)),
            ),
        )
        .withColumn("tweet_count_change", (F.col("tweet_count") - F.col("previous_count")).cast("long"))
    )
    if tmdb_stat is not None:
        popularity = tmdb_stat.select("id", "date", "popularity").withColumn(
            "popularity_change", F.col("popularity") - F.sum("popularity").over(previous_day)
        )
        scored = scored.join(popularity, ["id", "date"], "left")
    else:
        scored = scored.withColumn("popularity", F.lit(None).cast("double")).withColumn(
            "popularity_change", F.lit(None).cast("double")
        )
    in_days = scored.where(F.col("date").isin(days))
    ranking = Window.partitionBy("date").orderBy(
        F.col("zscore").desc_nulls_last(), F.col("tweet_count").desc(), F.col("id")
    )
    return (
        in_days.join(names, ["id", "date"], "left")
        .withColumn("rank", F.row_number().over(ranking).cast("int"))
        .select(*[F.col(f.name).cast(f.dataType) for f in SHOW_TRENDS_SCHEMA.fields])
    )
