"""The one place that picks the deployment (TRENDING_TV_DEPLOYMENT) and its resources.

Both deployments expose the same resource keys: `lake`, `pyspark`, `pyspark_step_launcher`, and the
settings shown in the UI (`data_quality`, `lake_watch`, `alerts`; trending_tv.settings).
"""

from __future__ import annotations

from typing import Any

from dagster import ResourceDefinition
from dagster_pyspark import LazyPySparkResource

from trending_tv.resources.lake import LakeResource
from trending_tv.resources.spark import COMMON_SPARK_CONFIG, local_spark_config, use_this_python_for_workers
from trending_tv.resources.spark_connect import SparkConnectResource, remote_address
from trending_tv.settings import SPARK_REMOTE, SettingsError, settings, settings_resources


def deployment_name() -> str:
    """TRENDING_TV_DEPLOYMENT: local (default) or emr."""
    return settings().deployment


def local_resources() -> dict[str, Any]:
    use_this_python_for_workers()
    return {
        "lake": LakeResource(url=settings().lake_url),
        "pyspark": local_pyspark(settings().spark_remote),
        # Steps run in-process locally; the key exists so asset code is the same as on EMR.
        "pyspark_step_launcher": ResourceDefinition.none_resource(),
    }


def local_pyspark(spark_remote: str) -> LazyPySparkResource | SparkConnectResource:
    """A JVM of the run's own (local[*]), or with TRENDING_TV_SPARK_REMOTE a session on that warm
    Spark Connect server (`make spark-server`): the ~7 s JVM start and the cold JIT are paid once."""
    if not spark_remote:
        return LazyPySparkResource(spark_config=local_spark_config())
    try:
        remote_address(spark_remote)
    except ValueError as error:
        raise SettingsError(f"{SPARK_REMOTE}: {error}") from None
    return SparkConnectResource(remote=spark_remote)


def emr_resources() -> dict[str, Any]:
    """Lake on S3 read and written by Spark directly; Spark assets run on EMR through the step launcher
    (docs/DEPLOY_EMR.md). Settings come from TRENDING_TV_* variables, checked here so a missing one is
    named at load time (`dagster definitions validate`), not at the first step. The same function
    runs on the cluster, where the variables are exported cluster-wide."""
    from trending_tv.resources.emr import EmrSettings, TrendingTvEmrStepLauncher

    settings = EmrSettings.from_env()
    return {
        "lake": LakeResource(url=settings.lake_url, spark_io="direct"),
        # No spark.master: spark-submit on the cluster runs with --master yarn. Lazy, so the host that
        # launches the step never starts a JVM.
        "pyspark": LazyPySparkResource(spark_config=emr_spark_config()),
        "pyspark_step_launcher": ResourceDefinition(
            resource_fn=lambda _: TrendingTvEmrStepLauncher(settings),
            description="EMR PySpark step launcher (superseded upstream by Dagster Pipes; kept on purpose)",
        ),
    }


def emr_spark_config() -> dict[str, str]:
    return dict(COMMON_SPARK_CONFIG)


def resources_for(name: str | None = None) -> dict[str, Any]:
    name = name or deployment_name()
    return (local_resources() if name == "local" else emr_resources()) | settings_resources()
