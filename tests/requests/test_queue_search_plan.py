"""A name search can use the name indexes on PostgreSQL (issue 6: a search for a name
nobody has read the whole table). The speed itself is measured by `make bench`."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import text

from app.requests.intake_queue import QueueFilters, StatusFilter, _page_query


def test_a_name_search_of_every_request_is_answered_from_the_name_indexes(db, backend):
    # (Among open requests the planner may rather walk the open ones: a few thousand.)
    if backend != "postgresql":
        pytest.skip("query plans: PostgreSQL only (SQLite installs are small)")
    query = _page_query(
        QueueFilters(status=StatusFilter.ALL, search="zzqx"),
        viewer_id=1,
        after=None,
        limit=50,
        now=datetime.now(UTC),
    )
    sql = query.compile(db.get_bind(), compile_kwargs={"literal_binds": True})
    # On an empty table any plan is cheap; forbid reading the whole table to see whether
    # the indexes can serve a LIKE 'prefix%' at all.
    db.execute(text("SET LOCAL enable_seqscan = off"))
    plan = "\n".join(db.execute(text(f"EXPLAIN {sql}")).scalars())
    db.rollback()
    # The prefix bounds the index range (~>=~ / ~<~), rather than every entry being read
    # and filtered.
    for column in ("first_name", "last_name"):
        assert f"Index Cond: ((lower(({column})::text) ~>=~ 'zzqx'::text)" in plan, plan
