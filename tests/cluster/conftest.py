"""The cluster (deploy/cluster.py: nginx in front of two app hosts on one PostgreSQL and
Redis), started once for the whole test session: test_cluster.py drives it through nginx,
test_monitoring.py watches it with Prometheus."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from pathlib import Path

import pytest
import redis
from sqlalchemy.engine import make_url

from deploy.cluster import Cluster, nginx_binary
from tests.support.databases import postgres_url, prepare_postgres
from tests.support.servers import free_port

FORM_LIMIT = 5


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


@pytest.fixture(scope="session")
def cluster():
    try:
        nginx_binary()
    except RuntimeError as error:
        if in_ci():
            pytest.fail(f"the cluster cannot run in CI: {error}", pytrace=False)
        pytest.skip(f"cluster tests skipped: {error}")
    # A database of this suite's own, beside the tests' (TEST_POSTGRES_URL) one.
    tests_db = make_url(postgres_url())
    database_url = tests_db.set(database=f"{tests_db.database}_cluster").render_as_string(
        hide_password=False
    )
    prepare_postgres(database_url)
    # Not under pytest's own directory, which only root may enter: nginx's workers run as
    # nobody when the tests run as root, and they keep the page cache in here.
    workdir = Path(tempfile.mkdtemp(prefix="intake-cluster-test-"))
    workdir.chmod(0o755)
    cluster = Cluster(
        workdir=workdir,
        port=free_port(),
        host_ports=(free_port(), free_port()),
        database_url=database_url,
        workers=2,
        key_prefix=f"intake-cluster-test-{uuid.uuid4().hex}",
        extra_env={
            "FORM_RATE_LIMIT": f"{FORM_LIMIT} per hour",
            # Production's Argon2 cost, but less memory: a handful of sign-ins here.
            "ARGON2_MEMORY_KIB": "19456",
        },
    )
    try:
        with cluster:
            yield cluster
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    store = redis.Redis.from_url(cluster.redis_url)
    for key in store.scan_iter(f"*{cluster.key_prefix}*"):
        store.delete(key)
    store.close()
