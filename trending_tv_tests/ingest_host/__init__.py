"""Tests of the ingest host (`ingest_host/`): real tweepy/tmdbv3api clients against local servers."""
