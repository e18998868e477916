"""Pure transforms: plain functions over a SparkSession, paths and rows, shared by the Dagster
assets, the tests and the EMR step. Nothing here imports Dagster."""
