"""Measure authorised e-license retrievals per second over HTTP: consent gate, ledger entries, copy and attachment.

Usage: .venv/bin/python benchmarks/e_license_bench.py [--workers 2] [--in-flight 1] [--connections 16] [--runs 5] [--seconds 5]
       [--holders 40] [--licenses 20] [--database-url URL] [--json FILE]
       scripts/with-postgres.sh .venv/bin/python benchmarks/e_license_bench.py ...

What one request does. `POST /api/v1/e-license/applications/{id}/retrievals` with a clerk's API token, exactly as
a window system would call it: the token is resolved, the clerk's accreditation and window are checked, the
application is locked, the grant's scope is read, consent's gate locks and checks the grant, counts one use and
writes an access record with salted commitments and a pending ledger entry, an AES-GCM copy is kept for the grant's
data life, the attachment and a second ledger entry (`e_license.application.attached`) are inserted, the copy is
decrypted again for the response, and the transaction commits. Nothing is mocked or cached in between.

Data. --holders people each hold --licenses real-estate title certificates (M007 accepts them), issued as signed VCs
through the service. Each application has its own grant covering one holder's certificates, redeemed at the clerk's
window, so every request retrieves a (application, certificate) pair not retrieved before. Applications are dealt
out whole to the connections, so two connections never contend for one grant.

Load. A fresh database (a new SQLite file, or the PostgreSQL database named by --database-url or
OPENZONE_DATABASE_URL) is migrated and filled, then Uvicorn serves `openzone.app:create_app` with --workers worker
processes on loopback, each letting --in-flight requests into the app at once (the OPENZONE_IN_FLIGHT setting;
the others wait at the door: with one request per process no threads take turns at the interpreter lock, which
measured 425 against 291 retrievals/s with the default of 32). The load generator is this process: one asyncio loop with --connections keep-alive HTTP/1.1
connections written by hand (no client library), so it uses at most one core; the CPU it used is reported. Each run
lasts --seconds after a 1 s warm-up; throughput is completed 201 responses per second, and latency is measured from
writing a request to reading its whole response. The figures reported are the medians over --runs runs.

CPU. Each run also reports the Uvicorn processes' CPU time per answered request (user + system from /proc, warm-up
included) and how many of the machine's cores were busy. On a shared machine throughput moves with whatever else
runs; the CPU a request costs the server moves much less, so it is the figure to compare changes by. Each run also
says how many of its connections each worker holds: the workers share one listening socket, and a worker that wakes
takes every connection waiting, so connections opened together can land unevenly (16 and 0 was common), and then
one worker is CPU-bound while the other idles, whatever the server's capacity. The connections are therefore opened
one at a time, 20 ms apart, before each run; each then goes to whichever worker wins that accept.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # `tests` as a package, for the ID-number builder


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def prepare(holders: int, licenses: int, applications: int) -> tuple[str, list[tuple[str, list[str]]]]:
    """Fill the database: an issuer, a hall, an accredited clerk with a token, licenses and redeemed grants."""
    from tests import builders

    from openzone import migrate
    from openzone.core import calendar, consent, identity
    from openzone.db import transaction
    from openzone.kit.time import utcnow
    from openzone.services.e_license import service

    migrate.upgrade()
    with transaction() as session:
        calendar.seed_from_package(session)
    with transaction() as session:
        agency = builders.create_org(session, kind="government_agency", uscc=None, name="不动产登记中心（压测）")
        service.create_issuer(session, org_id=agency.id, license_types=["real_estate_certificate"])
        hall = builders.create_org(session, kind="service_hall", uscc=None, name="政务服务中心（压测）")
        window = service.create_window(session, hall_org_id=hall.id, hall_code="BENCH", code="W01", name="压测窗口")
        clerk = builders.create_person(session, org=hall, role="clerk", name="压测窗口")
        identity.add_membership(session, person_id=clerk.id, org_id=hall.id, role="org_admin")
        service.accredit_clerk(session, person_id=clerk.id, window_id=window.id, by_person=None)
        _, token = identity.create_token(session, person=clerk, org_id=hall.id, name="bench", scopes=["write", "read"])
        ids = {"agency": agency.id, "hall": hall.id, "clerk": clerk.id}
    owners: list[tuple[uuid.UUID, list[uuid.UUID]]] = []
    for h in range(holders):
        with transaction() as session:
            person = builders.create_person(session, name=f"业主{h}")
            lics = []
            for n in range(licenses):
                lic = service.issue(session, issuer_org_id=ids["agency"], item=service.LicenseInput(
                    "real_estate_certificate", "person", person.id,
                    {"number": f"京(2024)朝阳区不动产权第{h:04d}{n:03d}号", "owner": person.name, "co_ownership": "单独所有",
                     "location": f"朝阳区压测路{h}号{n}室", "unit_number": f"110105{h:06d}{n:04d}", "right_type": "房屋所有权",
                     "use": "住宅", "area": "88.8"}, dt.date(2024, 1, 1), None))
                lics.append(lic.id)
            owners.append((person.id, lics))
    work: list[tuple[str, list[str]]] = []
    for a in range(applications):
        holder_id, lics = owners[a % len(owners)]
        with transaction() as session:
            holder = consent.Holder.person(holder_id)
            now = utcnow()
            terms = consent.check_terms(
                scope=[consent.ScopeLine(service.KIND, str(lid), ("number", "owner", "location", "area")) for lid in lics],
                purpose=service.purpose_of("M007"), valid_from=now, valid_until=now + dt.timedelta(hours=6),
                use_mode="count", max_uses=len(lics), data_life_days=30)
            grant = consent.give_grant(session, holder=holder, requester=consent.Binding(org_id=ids["hall"]),
                                       terms=terms, by_person=holder_id)
            shown = consent.present_qr(session, grant.id, holders=[holder])
            app = service.start_application(session, clerk_person_id=ids["clerk"], matter_code="M007")
            service.accept_presentation(session, clerk_person_id=ids["clerk"], application_id=app.id,
                                        token=shown.qr_payload)
            work.append((str(app.id), [str(x) for x in lics]))
    return token, work


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(workers: int, in_flight: int = 0) -> tuple[subprocess.Popen, int]:
    """Run Uvicorn with several workers on loopback and wait until it answers (in_flight: the setting, 0 its default)."""
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "openzone.app:create_app", "--factory", "--host",
                             "127.0.0.1", "--port", str(port), "--workers", str(workers), "--log-level", "warning",
                             "--no-access-log"], cwd=ROOT, env={**os.environ, "OPENZONE_IN_FLIGHT": str(in_flight)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                if s.recv(64).startswith(b"HTTP/1.1"):
                    return proc, port
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the server did not start")


async def _connection(stream: tuple[asyncio.StreamReader, asyncio.StreamWriter], token: str,
                      items: list[tuple[str, str]], start: float, end: float, latencies: list[float],
                      statuses: dict) -> None:
    reader, writer = stream
    try:
        for app_id, lic_id in items:
            now = time.perf_counter()
            if now >= end:
                return
            body = json.dumps({"license_id": lic_id}).encode()
            request = (f"POST /api/v1/e-license/applications/{app_id}/retrievals HTTP/1.1\r\nHost: bench\r\n"
                       f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
                       f"Content-Length: {len(body)}\r\n\r\n").encode() + body
            writer.write(request)
            await writer.drain()
            status_line = await reader.readline()
            if not status_line:  # the server closed the connection: say so rather than fail the whole run
                statuses["closed"] = statuses.get("closed", 0) + 1
                return
            status = int(status_line.split()[1])
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            await reader.readexactly(length)
            done = time.perf_counter()
            statuses["answered"] = statuses.get("answered", 0) + 1  # warm-up included, for the server's CPU
            if now >= start:  # requests sent during the warm-up are not counted
                latencies.append(done - now)
                statuses[status] = statuses.get(status, 0) + 1
    finally:
        writer.close()


def _cpu_seconds(pids: list[int]) -> float:
    """Return the user and system CPU time the processes have used so far (Linux /proc), skipping any that ended."""
    ticks = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ticks += int(fields[11]) + int(fields[12])  # utime, stime (proc(5))
    return ticks / os.sysconf("SC_CLK_TCK")


def _machine_busy() -> tuple[float, float]:
    """Return (busy, total) CPU seconds of the whole machine since boot, from the first line of /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]  # idle, iowait
    return (sum(values) - idle) / os.sysconf("SC_CLK_TCK"), sum(values) / os.sysconf("SC_CLK_TCK")


def server_pids(proc: subprocess.Popen) -> list[int]:
    """Return the Uvicorn supervisor and its worker processes (not multiprocessing's resource tracker)."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            command = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue
        if int(fields[1]) == proc.pid and b"resource_tracker" not in command:
            children.append(int(stat.parent.name))
    return [proc.pid, *sorted(children)]


def connections_per_worker(pids: list[int], port: int) -> list[int]:
    """Count the established connections to the port that each server process holds (Linux /proc/net/tcp).

    The workers share one listening socket and a worker takes every connection waiting when it wakes, so keep-alive
    connections opened together can land unevenly; a worker with more of them is CPU-bound while the other idles.
    """
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if fields[3] == "01" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # ESTABLISHED, local port
                inodes.add(fields[9])
    counts = []
    for pid in pids[1:] or pids:  # with one worker, Uvicorn serves in its own process
        held = 0
        for fd in Path(f"/proc/{pid}/fd").glob("*"):
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target.startswith("socket:[") and target[8:-1] in inodes:
                held += 1
        counts.append(held)
    return counts


async def one_run(port: int, token: str, batches: list[list[tuple[str, str]]], seconds: float,
                  pids: list[int]) -> dict:
    """Drive the server with one connection per batch for a warm-up second and then `seconds`."""
    latencies: list[float] = []
    statuses: dict = {}
    streams = []
    for _ in batches:
        # One at a time: opened together, the first worker to wake took all of them (16/0 in 2 of 5 runs).
        streams.append(await asyncio.open_connection("127.0.0.1", port))
        await asyncio.sleep(0.02)
    t0 = time.perf_counter()
    cpu0, server0, machine0 = time.process_time(), _cpu_seconds(pids), _machine_busy()
    start, end = t0 + 1.0, t0 + 1.0 + seconds
    split = connections_per_worker(pids, port)
    await asyncio.gather(*(_connection(stream, token, b, start, end, latencies, statuses)
                           for stream, b in zip(streams, batches, strict=True)))
    wall = time.perf_counter() - t0
    server, machine = _cpu_seconds(pids) - server0, _machine_busy()
    elapsed = min(time.perf_counter(), end) - start
    answered = statuses.pop("answered", 0)
    ok = statuses.get(201, 0)
    # A connection stops when its share of the prepared work is done: if that came before the end, fewer
    # connections carried the last part of the run and the rate is too low (main() says so).
    return {"ok_per_s": ok / elapsed, "ran_out": elapsed < seconds - 0.05,
            "requests": sum(statuses.values()), "statuses": statuses,
            "p50_ms": _quantile(latencies, 0.5) * 1000, "p99_ms": _quantile(latencies, 0.99) * 1000,
            "loadgen_cpu": (time.process_time() - cpu0) / wall,
            # Every answered request, warm-up included, against the Uvicorn processes' CPU over the same time.
            "server_cpu_ms": server / answered * 1000 if answered else float("nan"),
            # Cores busy on the whole machine (server, database, load generator, anything else) during the run.
            "machine_cores_busy": (machine[0] - machine0[0]) / (machine[1] - machine0[1]) * (os.cpu_count() or 1),
            "connections_per_worker": split}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--in-flight", type=int, default=1,
                        help="requests each worker process lets in at once (OPENZONE_IN_FLIGHT; 0: the default)")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--holders", type=int, default=40)
    parser.add_argument("--licenses", type=int, default=20)
    parser.add_argument("--expected-rate", type=float, default=1000.0,
                        help="retrievals/s to prepare data for (above it, runs end early and say so)")
    parser.add_argument("--database-url", default=os.environ.get("OPENZONE_DATABASE_URL", ""))
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="openzone-el-bench-"))
    os.environ["OPENZONE_VAR_DIR"] = str(tmp / "var")
    os.environ["OPENZONE_DATABASE_URL"] = args.database_url or f"sqlite:///{tmp / 'bench.db'}"
    backend = "postgresql" if os.environ["OPENZONE_DATABASE_URL"].startswith("postgresql") else "sqlite"
    needed = int(args.expected_rate * (args.seconds + 1.5) * args.runs) + args.connections * args.licenses
    applications = max(args.connections, needed // args.licenses + 1)
    t = time.perf_counter()
    token, work = prepare(args.holders, args.licenses, applications)
    print(f"{backend}: prepared {args.holders * args.licenses} licenses and {len(work)} applications "
          f"({len(work) * args.licenses} retrievals) in {time.perf_counter() - t:.0f} s", flush=True)
    proc, port = start_server(args.workers, args.in_flight)
    pids = server_pids(proc)
    results = []
    try:
        cursor = 0
        for run in range(args.runs):
            share = (len(work) - cursor) // (args.runs - run) // args.connections
            batches = []
            for _ in range(args.connections):
                apps = work[cursor:cursor + share]
                cursor += share
                batches.append([(a, lic) for a, lics in apps for lic in lics])
            result = asyncio.run(one_run(port, token, batches, args.seconds, pids))
            results.append(result)
            print(f"  run {run + 1}: {result['ok_per_s']:.0f}/s p50 {result['p50_ms']:.1f} ms "
                  f"p99 {result['p99_ms']:.1f} ms statuses {result['statuses']} "
                  f"server CPU {result['server_cpu_ms']:.1f} ms/request, machine {result['machine_cores_busy']:.2f} "
                  f"cores busy, connections per worker {'/'.join(map(str, result['connections_per_worker']))}, "
                  f"load generator {result['loadgen_cpu'] * 100:.0f}% of a core", flush=True)
            if result["ran_out"]:
                print("  (the prepared work ran out before the end of this run, so its rate is too low: "
                      "raise --expected-rate)", flush=True)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)
    summary = {
        "backend": backend, "workers": args.workers, "in_flight": args.in_flight, "connections": args.connections,
        "seconds": args.seconds,
        "runs": len(results), "cpus": os.cpu_count(), "python": platform.python_version(),
        "median_ok_per_s": statistics.median(r["ok_per_s"] for r in results),
        "median_p50_ms": statistics.median(r["p50_ms"] for r in results),
        "median_p99_ms": statistics.median(r["p99_ms"] for r in results),
        "median_loadgen_cpu": statistics.median(r["loadgen_cpu"] for r in results),
        "median_server_cpu_ms": statistics.median(r["server_cpu_ms"] for r in results),
        "median_machine_cores_busy": statistics.median(r["machine_cores_busy"] for r in results), "results": results}
    print(json.dumps({k: v for k, v in summary.items() if k != "results"}, ensure_ascii=False))
    if args.json:
        args.json.write_text(json.dumps(summary, ensure_ascii=False, indent=2))


if __name__ == "__main__":
    main()
