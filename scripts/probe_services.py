"""Prints which local services answer: `postgres` and/or `redis` (used by scripts/test.sh)."""
import sys

url_pg, url_redis = sys.argv[1], sys.argv[2]
found = []
try:
    import psycopg

    with psycopg.connect(url_pg.replace("postgres://", "postgresql://", 1), connect_timeout=3) as conn:
        conn.execute("SELECT 1")
    found.append("postgres")
except Exception as exc:  # report only: the caller decides whether a missing service is an error
    print(f"postgres unreachable: {exc.__class__.__name__}", file=sys.stderr)
try:
    import redis

    redis.Redis.from_url(url_redis, socket_connect_timeout=3).ping()
    found.append("redis")
except Exception as exc:
    print(f"redis unreachable: {exc.__class__.__name__}", file=sys.stderr)
print(" ".join(found))
