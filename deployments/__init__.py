"""Deployments of the payflows flows: one catalog, and what is made from it.

- :data:`CATALOG` (:mod:`deployments.catalog`): every deployment with its schedule,
  default parameters, tags and concurrency limit;
- :func:`prefect_yaml`: the checked-in ``prefect.yaml`` for ``prefect deploy --all``;
- :func:`serve_catalog`: ``payflows serve``, every deployment from one process;

Deployments point at flows, never the reverse; ``payflows up`` (the whole local stack) is an
entry point and lives above, in :mod:`apps.up`.
"""

from deployments.catalog import (
    CATALOG,
    DEFAULT_WORK_POOL,
    TIMEZONE,
    DeploymentSpec,
    available,
    by_name,
)
from deployments.render import prefect_yaml
from deployments.serve import runner_deployments, serve_catalog

__all__ = [
    "CATALOG",
    "DEFAULT_WORK_POOL",
    "TIMEZONE",
    "DeploymentSpec",
    "available",
    "by_name",
    "prefect_yaml",
    "runner_deployments",
    "serve_catalog",
]
