"""Enrichment ETL: events joined with a dimension Parquet file, aggregated per window, written to DuckDB.

Every second a batch of purchase events ``(user, amount, ts)`` arrives (the built-in generator
stands in for Kafka or a socket). Each batch is

1. enriched with the user's country and tier from ``users.parquet`` (``ssc.register_table``,
   reloaded between batches whenever the file changes),
2. appended to the DuckDB table ``events`` (raw, enriched rows, exactly once per batch),
3. aggregated over a 10-second window sliding every 5 seconds into revenue per country, upserted
   into ``revenue_by_country`` (one row per country: the latest window).

Run it, then look at the tables::

    python examples/enrichment_etl.py /tmp/etl --seconds 12
    duckdb /tmp/etl/warehouse.duckdb "SELECT * FROM revenue_by_country ORDER BY revenue DESC"

Re-running with the same directory resumes: batches already in ``dstreams_batches`` are not
written again.
"""

from __future__ import annotations

import argparse
import os

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from dstreams import StreamingContext

COUNTRIES = ["de", "fr", "es", "it", "pl"]

ENRICH = """
    SELECT e.ts, e.user, e.amount, coalesce(u.country, 'unknown') AS country, u.tier
    FROM batch e LEFT JOIN users u USING (user)
"""

REVENUE = """
    SELECT country, count(*) AS purchases, round(sum(amount), 2) AS revenue, max(ts) AS last_purchase
    FROM batch GROUP BY country
"""


def write_users(path: str) -> None:
    """The dimension table: 100 users, each with a country and a tier (written atomically)."""
    users = [f"u{i}" for i in range(100)]
    table = pa.table(
        {
            "user": users,
            "country": [COUNTRIES[i % len(COUNTRIES)] for i in range(100)],
            "tier": ["gold" if i % 10 == 0 else "standard" for i in range(100)],
        }
    )
    tmp = f"{path}.tmp"
    pq.write_table(table, tmp)
    os.replace(tmp, path)


def build(ssc: StreamingContext, workdir: str, rate: int = 1000) -> None:
    """Define the pipeline on ``ssc`` (tests drive it on a ManualClock)."""
    users = os.path.join(workdir, "users.parquet")
    if not os.path.exists(users):
        write_users(users)
    database = os.path.join(workdir, "warehouse.duckdb")

    ssc.register_table("users", users, refresh="on_change")
    events = ssc.generatorStream("events", rate=rate)
    enriched = events.sql(ENRICH)
    enriched.to_duckdb(database, "events")
    revenue = enriched.window(10, 5).sql(REVENUE)
    revenue.to_duckdb(database, "revenue_by_country", mode="upsert", key="country")
    revenue.pprint()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("workdir", help="where users.parquet and warehouse.duckdb live")
    parser.add_argument("--seconds", type=float, default=12, help="how long to run (default 12)")
    parser.add_argument("--rate", type=int, default=1000, help="events per second (default 1000)")
    args = parser.parse_args()
    os.makedirs(args.workdir, exist_ok=True)

    ssc = StreamingContext(batchDuration=1)
    build(ssc, args.workdir, args.rate)
    ssc.start()
    ssc.awaitTerminationOrTimeout(args.seconds)
    ssc.stop(stopGraceFully=True)

    with duckdb.connect(os.path.join(args.workdir, "warehouse.duckdb")) as con:
        print(con.sql("SELECT count(*) AS events FROM events"))
        windows = "SELECT count(*) FROM information_schema.tables WHERE table_name = 'revenue_by_country'"
        if con.sql(windows).fetchall()[0][0]:
            print(con.sql("SELECT * FROM revenue_by_country ORDER BY revenue DESC"))
        else:  # the first 10-second window ends 5 to 10 seconds after the start
            print("no window has ended yet, so revenue_by_country is empty: run for 10 seconds or more")


if __name__ == "__main__":
    main()
