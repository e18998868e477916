"""The one place that picks the deployment (TRENDING_TV_DEPLOYMENT) and its resources.

Both deployments expose the same resource keys: `lake`, `pyspark`, `pyspark_step_launcher`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from dagster import ResourceDefinition
from dagster_pyspark import LazyPySparkResource

from trending_tv.resources.lake import LakeResource
from trending_tv.resources.spark import local_spark_config, use_this_python_for_workers

DEPLOYMENTS = ("local", "emr")
DEFAULT_LAKE = "./lake"


def deployment_name() -> str:
    name = os.environ.get("TRENDING_TV_DEPLOYMENT", "local").strip().lower() or "local"
    if name not in DEPLOYMENTS:
        raise ValueError(f"TRENDING_TV_DEPLOYMENT={name!r} is not one of {', '.join(DEPLOYMENTS)}")
    return name


def lake_url() -> str:
    """TRENDING_TV_LAKE, with a relative folder made absolute (the code server's working directory
    is not always the user's)."""
    url = os.environ.get("TRENDING_TV_LAKE", DEFAULT_LAKE).strip() or DEFAULT_LAKE
    return url if "://" in url else str(Path(url).expanduser().absolute())


def local_resources() -> dict[str, Any]:
    use_this_python_for_workers()
    return {
        "lake": LakeResource(url=lake_url()),
        "pyspark": LazyPySparkResource(spark_config=local_spark_config()),
        # Steps run in-process locally; the key exists so asset code is the same as on EMR.
        "pyspark_step_launcher": ResourceDefinition.none_resource(),
    }


def resources_for(name: str | None = None) -> dict[str, Any]:
    name = name or deployment_name()
    if name == "local":
        return local_resources()
    raise ValueError(f"deployment {name!r} is not available yet: see the EMR issue")
