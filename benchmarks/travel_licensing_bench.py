"""Measure the time from submission to automatic approval of a travel-agency licence (target: under 1 second).

Usage: .venv/bin/python benchmarks/travel_licensing_bench.py [--count 200] [--database-url URL] [--json FILE]

One fresh database migrated to head (a SQLite file by default, or a new database on the PostgreSQL server named by
--database-url / OPENZONE_DATABASE_URL), with the official calendar seeded, one clerk and two inspectors on duty.
For each of --count firms a complete commitment-route draft (answers, route chosen, commitment signed) is prepared and
committed outside the timing. The timed part is what happens when the firm presses "sign and submit" and the request
ends: one transaction that re-runs every check (conditions, credit, bars), computes the half-working-day limit,
approves, numbers the licence, hashes its content, queues the deposit obligation and its job, schedules the
verification inspection, writes the ledger entry and the notices, and commits. Figures are wall-clock seconds per
submission: median, p95 and maximum.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.ledger_bench import Databases, _quantile
from openzone.core import calendar, identity
from openzone.db import transaction
from openzone.demo import synthetic_id_number, synthetic_uscc
from openzone.services.travel_licensing import service


def prepare(count: int, rng: random.Random) -> list:
    """Create officers and `count` signed commitment-route drafts; return their ids."""
    ids = []
    with transaction() as session:
        calendar.seed_from_package(session)
        agency = identity.create_organisation(session, name="基准测试审批处", kind="government_agency")
        for n, duty in enumerate(("clerk", "inspector", "inspector")):
            person = identity.create_person(session, name=f"审批{n}", email=f"bench-staff{n}@example.cn",
                                            password_hash="x")
            service.register_officer(session, person_id=person.id, org_id=agency.id, duty=duty)
    for n in range(count):
        with transaction() as session:
            uscc = synthetic_uscc(rng)
            org = identity.create_organisation(session, name=f"基准旅行社{n}", kind="enterprise", uscc=uscc)
            person = identity.create_person(session, name="企业", email=f"bench-firm{n}@example.cn", password_hash="x")
            identity.add_membership(session, person_id=person.id, org_id=org.id, role="org_admin")
            app = service.start_application(session, org_id=org.id, person_id=person.id)
            for step, form in (
                    ("enterprise", {"name": org.name, "uscc": uscc}),
                    ("legal_rep", {"legal_rep_name": "张某", "legal_rep_id": synthetic_id_number(rng)}),
                    ("premises", {"premises_address": "北京市示例路1号", "tenure": "owned"}),
                    ("facilities", {"phone_lines": "2", "has_fax": "yes", "has_copier": "yes", "has_computer": "yes"}),
                    ("capital", {"capital_yuan": "300000"}), ("staff", {"staff_count": "10", "guide_count": "3"}),
                    ("managers", {"managers": "李经理,总经理,6"}), ("branches", {"branches": "0"})):
                service.save_step(session, application=app, step=step, form=form)
            service.choose_route(session, application=app, route="commitment")
            service.sign(session, application=app, read_notice=True, commit=True)
            ids.append(app.id)
    return ids


def main() -> None:
    """Run the benchmark and print (and optionally save) the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--database-url", default=os.environ.get("OPENZONE_DATABASE_URL"))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        dbs = Databases(args.database_url if args.database_url and not args.database_url.startswith("sqlite") else None,
                        Path(tmp))
        dbs.fresh()
        ids = prepare(args.count, random.Random(20261128))
        times = []
        for app_id in ids:
            start = time.perf_counter()
            with transaction() as session:
                app = service.get_application(session, app_id)
                service.submit(session, application=app)
                assert app.status == "approved" and app.automatic
            times.append(time.perf_counter() - start)
        result = {"dialect": dbs.dialect, "settings": dbs.settings(), "count": len(times),
                  "median_s": round(statistics.median(times), 4), "p95_s": round(_quantile(times, 0.95), 4),
                  "max_s": round(max(times), 4), "python": platform.python_version(),
                  "cpus": os.cpu_count()}
    print(json.dumps(result, ensure_ascii=False, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
