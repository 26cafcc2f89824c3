"""Profile e-license retrievals in process: statements per request by kind and Python time per part (cProfile).

Usage: .venv/bin/python benchmarks/e_license_profile.py [--retrievals 60] [--top 25]
       scripts/with-postgres.sh .venv/bin/python benchmarks/e_license_profile.py ...

Each retrieval runs what the route `POST /api/v1/e-license/applications/{id}/retrievals` runs, in the same order and
with the same transaction handling, without HTTP: the token is resolved into a principal (identity's
`load_principal`), the route's session is consent's `request_session` (a savepoint), the service retrieves, the
response is built (copy decrypted), and the transaction commits. A SQLAlchemy `before_cursor_execute` listener counts
the statements per request by their first words; cProfile reports where the Python time goes. The HTTP layer
(Uvicorn, Starlette middleware, FastAPI's dependency solving and response validation) is not in these figures; run
`e_license_bench.py` for the whole path.
"""

from __future__ import annotations

import argparse
import collections
import cProfile
import os
import pstats
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _kind(statement: str) -> str:
    statement = " ".join(statement.split())
    words = statement.split()
    if not words:
        return "?"
    head = words[0].upper()
    if head == "INSERT":
        return f"INSERT {words[2]}"
    if head in ("UPDATE",):
        return f"UPDATE {words[1]}"
    if head == "DELETE":
        return f"DELETE {words[2]}"
    if head == "SELECT":
        upper = statement.upper()
        at = upper.find(" FROM ")
        table = statement[at + 6:].split()[0] if at >= 0 else "?"
        return f"SELECT {table}" + (" FOR UPDATE" if "FOR UPDATE" in upper else "")
    return head


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--retrievals", type=int, default=60)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="openzone-el-profile-"))
    os.environ["OPENZONE_VAR_DIR"] = str(tmp / "var")
    os.environ.setdefault("OPENZONE_DATABASE_URL", f"sqlite:///{tmp / 'profile.db'}")

    from sqlalchemy import event
    from starlette.requests import Request

    from benchmarks.e_license_bench import prepare
    from openzone.core import consent
    from openzone.core.identity.access import load_principal
    from openzone.db import get_engine, new_session
    from openzone.services.e_license import api, schemas

    licenses = 10
    token, work = prepare(2, licenses, (args.retrievals + args.retrievals // 2) // licenses + 2)
    items = [(a, lic) for a, lics in work for lic in lics][: args.retrievals + 5]

    counts: collections.Counter[str] = collections.Counter()

    def count(_conn, _cursor, statement, _params, _context, _many):
        counts[_kind(statement)] += 1

    event.listen(get_engine(), "before_cursor_execute", count)

    def one(app_id: str, lic_id: str) -> None:
        scope = {"type": "http", "method": "POST", "path": f"/api/v1/e-license/applications/{app_id}/retrievals",
                 "headers": [(b"authorization", f"Bearer {token}".encode())], "query_string": b""}
        request = Request(scope)
        with new_session() as session, session.begin():
            principal = load_principal(request, session)
            gen = consent.request_session(session)
            route_session = next(gen)
            out = api.retrieve(uuid.UUID(app_id), schemas.RetrievalIn(license_id=lic_id), principal, route_session)
            out.model_dump_json()
            for _ in gen:  # closes the savepoint as FastAPI does after the route returns
                pass

    for app_id, lic_id in items[:5]:  # warm-up: imports, caches, the first connection
        one(app_id, lic_id)
    plain = items[5:5 + args.retrievals // 2]
    started = time.perf_counter()
    for app_id, lic_id in plain:
        one(app_id, lic_id)
    wall = (time.perf_counter() - started) / len(plain)
    items = items[:5] + items[5 + len(plain):]
    counts.clear()
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    for app_id, lic_id in items[5:]:
        one(app_id, lic_id)
    profiler.disable()
    elapsed = time.perf_counter() - started
    n = len(items) - 5
    backend = get_engine().dialect.name
    print(f"{backend}: {wall * 1000:.1f} ms per retrieval without the profiler; {n} retrievals, "
          f"{elapsed / n * 1000:.1f} ms each under cProfile, "
          f"{sum(counts.values()) / n:.1f} statements each")
    for kind, c in sorted(counts.items(), key=lambda kv: -kv[1]):
        print(f"  {c / n:5.2f}  {kind}")
    stats = pstats.Stats(profiler)
    print(f"  {stats.total_calls / n:,.0f} Python function calls per retrieval (a CPU measure the machine's load "
          "does not change)")
    stats.sort_stats("cumulative").print_stats(args.top)


if __name__ == "__main__":
    main()
