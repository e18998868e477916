"""Analyst access to the lake: the `trending-tv` CLI, DuckDB views over every table, Athena DDL."""
