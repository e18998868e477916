"""The 2020 project's tweet ETL, ported to Spark 4 on today's files (`python -m
trending_tv_tests.bench._etl_2020 OUT DAY SHOWS_CSV FILE ...`), for the side-by-side benchmark only.

Its approach, kept as it was: the day's JSON read with an inferred schema and repartitioned; Python
UDFs pick the text (retweet's full text first) and lowercase the top-level hashtags; a UDF tests
each of the shows' lowercased names as a plain substring of the lowercased text; three left joins
from the broadcast show table (hashtag, text, either), summed per show, joined, one partition
written as Parquet. Ported: both payload families' fields are read (X API v2 `data.*` beside the
v1.1 fields) and hashtags are the list's own (without its "the" variants); no de-duplication, no
normalisation, no word boundaries, as in 2020. Not the counting rules: only the cost is compared."""

from __future__ import annotations

import csv
import sys

from pyspark.sql import SparkSession
from pyspark.sql import functions as F
from pyspark.sql import types as T

from trending_tv.resources.spark import local_spark_config, use_this_python_for_workers


def main(out: str, day: str, shows_csv: str, paths: list[str]) -> None:
    use_this_python_for_workers()
    builder = SparkSession.builder.appName("ETL Tweet (2020, ported)")
    for key, value in local_spark_config(shuffle_partitions=4).items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    with open(shows_csv, newline="", encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    shows = spark.createDataFrame(
        [(r["id"], r["name"], r["hashtags"].split("|")[0][1:].lower()) for r in rows],
        "id string, name string, unified_hashtag string",
    ).persist()
    names = [r["name"] for r in rows]

    tweets = spark.read.json(paths).repartition(4)  # inferred schema, as in 2020

    @F.udf(T.StringType())
    def final_text(rt_full, rt_text, ext_full, text, v2_note, v2_text):
        return rt_full or rt_text or ext_full or text or v2_note or v2_text

    @F.udf(T.ArrayType(T.StringType()))
    def lower_tags(v1_tags, v2_tags):
        return [t.lower() for t in (v1_tags or v2_tags or []) if t]

    @F.udf(T.ArrayType(T.StringType()))
    def text_mentions(text):
        lowered = (text or "").lower()
        return [name for name in names if name.lower() in lowered]

    created = F.coalesce(
        F.try_to_timestamp(F.substring("created_at", 5, 100), F.lit("MMM dd HH:mm:ss Z yyyy")),
        F.try_to_timestamp(F.col("data.created_at"), F.lit("yyyy-MM-dd'T'HH:mm:ss[.SSS]X")),
    )
    posts = tweets.select(
        F.coalesce("id_str", "data.id").alias("id_str"),
        lower_tags("entities.hashtags.text", "data.entities.hashtags.tag").alias("hashtags"),
        final_text(
            "retweeted_status.extended_tweet.full_text",
            "retweeted_status.text",
            "extended_tweet.full_text",
            "text",
            "data.note_tweet.text",
            "data.text",
        ).alias("final_text"),
        F.to_date(created).alias("date"),
    ).where(F.col("date") == F.lit(day).cast("date"))
    posts = posts.withColumn("text_mentions", text_mentions("final_text")).persist()
    hashtag = F.array_contains(posts["hashtags"], shows["unified_hashtag"])
    text = F.array_contains(posts["text_mentions"], shows["name"])

    def counted(condition, name):
        joined = F.broadcast(shows).join(posts, condition, "left")
        return joined.groupBy(shows["id"]).agg(
            F.sum(F.when(posts["id_str"].isNotNull(), 1).otherwise(0)).alias(name)
        )

    table = (
        counted(hashtag, "hashtag_count")
        .join(counted(text, "text_count"), "id")
        .join(counted(hashtag | text, "tweet_count"), "id")
        .withColumn("date", F.lit(day).cast("date"))
    )
    table.coalesce(1).write.mode("overwrite").parquet(out)
    spark.stop()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:])
