"""The EMR deployment: the Spark assets run on an EMR cluster through dagster-aws's step launcher.

- `settings`: `EmrSettings` from TRENDING_TV_* variables, and the environment exported to the nodes;
- `packaging`: the code folder zipped per run (trending_tv and ingest_host only), the runtime pins
  and the bootstrap script that installs them on every node;
- `cluster`: the job-flow request (on-demand master, spot workers with on-demand fallback, idle
  auto-termination, logs on S3, the environment set cluster-wide) and `EmrClusters`, which creates
  a cluster per run on demand or checks and reuses a configured one;
- `launcher`: `TrendingTvEmrStepLauncher`, the upstream launcher with that cluster, that code zip
  and honest failure reporting.

docs/DEPLOY_EMR.md explains the deployment; the names below are the package's public interface.
"""

from trending_tv.resources.emr.cluster import (
    LIVE_CLUSTER_STATES,
    EmrClusters,
    cluster_configurations,
    cluster_name,
    exported_env,
    instances_request,
    job_flow_request,
)
from trending_tv.resources.emr.launcher import EmrStepFailed, TrendingTvEmrStepLauncher
from trending_tv.resources.emr.packaging import (
    CODE_PACKAGES,
    LOCK_FILE,
    NO_DEPS_ON_CLUSTER,
    NOT_INSTALLED_ON_CLUSTER,
    SOURCE_ROOT,
    bootstrap_script,
    code_folder,
    lock_constraints,
    lock_pins,
    runtime_names,
    runtime_pins,
)
from trending_tv.resources.emr.settings import (
    CLUSTER_PYTHON,
    CLUSTER_VENV,
    EmrSettings,
    EmrSettingsError,
)

__all__ = [
    "CLUSTER_PYTHON",
    "CLUSTER_VENV",
    "CODE_PACKAGES",
    "LIVE_CLUSTER_STATES",
    "LOCK_FILE",
    "NOT_INSTALLED_ON_CLUSTER",
    "NO_DEPS_ON_CLUSTER",
    "SOURCE_ROOT",
    "EmrClusters",
    "EmrSettings",
    "EmrSettingsError",
    "EmrStepFailed",
    "TrendingTvEmrStepLauncher",
    "bootstrap_script",
    "cluster_configurations",
    "cluster_name",
    "code_folder",
    "exported_env",
    "instances_request",
    "job_flow_request",
    "lock_constraints",
    "lock_pins",
    "runtime_names",
    "runtime_pins",
]
