"""Measure the trade vault: bulk filing throughput (parse, blob store, ledger, search index) and search latency.

Usage: .venv/bin/python benchmarks/trade_vault_bench.py [--documents 200000] [--batch 500] [--queries 200]
       [--processes N] [--one-by-one] [--database-url URL] [--json FILE] [--progress] [--keep]

Documents. Half are the real UBL 2.1 example invoice (tests/vectors/ubl_examples/invoice/UBL-Invoice-2.1-Example.xml)
with a new invoice number written into its cbc:ID, so every file has its own bytes and digest and still passes the
business rules; half are 示例 customs declarations in our JSON schema (data/samples/SH1-declaration.json with a new
18-digit number, a new invoice reference and an HS code drawn from the real HS table). They are filed with
service.file_bulk, the path of `openzone trade-vault import`: batches of --batch documents, each through
service.file_documents and committed on its own, one firm: type sniffing, defusedxml or JSON parsing and the business
rules, SHA-256, the search analysis of the texts (jieba), the blobs written to temporary files, fsynced together and
renamed (folders fsynced once), a multi-row insert per table, a ledger entry each, dossier grouping and one
search-index call. With --processes N, N worker processes do the checks, parsing, search analysis and blob writes of
the next batch while this one is written (the workers start inside the clock); with 0 all of it runs in the filing
process. --one-by-one files each document with service.file_document instead (a batch of one each, as single
uploads do). The documents are generated before the clock starts; jieba's dictionary is loaded in the filing
process before it too (a server has done so long before). The target is 200,000 documents in at most 10 minutes
(333 documents/s). cpu_ms_per_document counts this process and its worker processes (their start-up included),
not a PostgreSQL server.

Search. After filing, --queries searches as the documents page runs them (per_page 20, facets, the firm's filter):
invoice numbers, declaration numbers, Chinese goods names, and a word with a category filter; p50 and p95 in ms.

A fresh database is made for the run (a new SQLite file with the production pragmas, or a new database on the
PostgreSQL server named by --database-url / OPENZONE_DATABASE_URL) with var_dir in a temporary folder for the blobs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import shutil
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # `benchmarks` as a package

from benchmarks.ledger_bench import Databases, _quantile
from openzone.config import get_settings
from openzone.db import reset_engines, transaction

ROOT = Path(__file__).resolve().parents[1]
INVOICE = (ROOT / "tests/vectors/ubl_examples/invoice/UBL-Invoice-2.1-Example.xml").read_bytes()
GOODS = ("便携式电脑", "棉制T恤衫", "木制家具", "运动鞋", "平板电脑", "书籍")


def _invoice(n: int) -> bytes:
    # Its own invoice, order and contract numbers, so that it shares a dossier with the next declaration only.
    return (INVOICE.replace(b"<cbc:ID>TOSL108</cbc:ID>", f"<cbc:ID>OZB{n:09d}</cbc:ID>".encode(), 1)
            .replace(b"<cbc:ID>123</cbc:ID>", f"<cbc:ID>OZO{n:09d}</cbc:ID>".encode(), 1)
            .replace(b"<cbc:ID>Contract321</cbc:ID>", f"<cbc:ID>OZC{n + 1:09d}</cbc:ID>".encode(), 1))


def _declaration(base: dict, n: int, hs_codes: list[str], rng: random.Random) -> bytes:
    doc = dict(base)
    doc["declaration_no"] = f"0101{n:014d}"
    doc["invoice_no"] = f"OZB{n - 1:09d}"
    doc["contract_no"] = f"OZC{n:09d}"
    doc["bl_no"] = f"OZBL{n:09d}"
    doc["order_no"] = f"OZO{n - 1:09d}"
    value = f"{rng.randint(100, 99999)}.00"
    doc["total_value"] = value
    doc["items"] = [{"hs_code": rng.choice(hs_codes), "name": rng.choice(GOODS) + "（示例）", "quantity": "1", "unit": "件",
                     "value": value}]
    return json.dumps(doc, ensure_ascii=False).encode()


def _cpu() -> float:
    # This process and its finished children (the parsing workers count once the pool is shut down).
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run(args: argparse.Namespace) -> dict:
    """File the documents, then time the searches; return the figures."""
    workdir = Path(tempfile.mkdtemp(prefix="openzone-vault-bench-"))
    os.environ["OPENZONE_VAR_DIR"] = str(workdir / "var")
    get_settings.cache_clear()
    databases = Databases(args.database_url or os.environ.get("OPENZONE_DATABASE_URL"), workdir)
    databases.fresh()
    from openzone.core import search
    from openzone.services.trade_vault import domain, service

    rng = random.Random(args.seed)
    base = json.loads((domain.DATA / "samples" / "SH1-declaration.json").read_text(encoding="utf-8"))
    hs_codes = sorted(domain.code_tables().hs)[:: 97]
    org = uuid.uuid4()
    filed = 0
    batches = []
    for first in range(1, args.documents + 1, args.batch):
        uploads = []
        for n in range(first, min(first + args.batch, args.documents + 1)):
            if n % 2:
                uploads.append(service.Upload(f"invoice-{n}.xml", _invoice(n)))
            else:
                uploads.append(service.Upload(f"declaration-{n}.json", _declaration(base, n, hs_codes, rng)))
        batches.append(uploads)
    # jieba builds its dictionary once per process (about 1.5 s): a server has done so long before a bulk import.
    search.analyse("预热")
    cpu0 = _cpu()
    started = time.perf_counter()
    if args.one_by_one:
        for uploads in batches:
            with transaction() as session:
                for upload in uploads:
                    service.file_document(session, org_id=org, filename=upload.filename, data=upload.data, source="bench")
            filed += len(uploads)
    else:
        def step(report: service.BulkReport) -> None:
            if args.progress:
                print(f"{report.filed} documents, {report.filed / (time.perf_counter() - started):.0f}/s", file=sys.stderr)

        # The path of `openzone trade-vault import`: batches committed one by one, the next one parsed (and its blobs
        # stored) by the worker processes while this one is written. The workers start inside the clock.
        report = service.file_bulk(org_id=org, uploads=(u for uploads in batches for u in uploads), batch=args.batch,
                                   processes=args.processes, source="bench", progress=step)
        if report.refused:
            raise SystemExit(f"refused: {report.refused[0]}")
        filed = report.filed
    elapsed = time.perf_counter() - started
    cpu = _cpu() - cpu0
    queries = []
    for i in range(args.queries):
        kind = i % 4
        n = rng.randint(1, args.documents)
        if kind == 0:
            q, cat = f"OZB{(n | 1):09d}", ""
        elif kind == 1:
            q, cat = f"0101{(n & ~1) or 2:014d}", ""
        elif kind == 2:
            q, cat = rng.choice(GOODS), ""
        else:
            q, cat = rng.choice(GOODS), "customs_declaration"
        queries.append((q, cat))
    latencies = []
    for q, cat in queries:
        t0 = time.perf_counter()
        with transaction() as session:
            service.search_documents(session, org, query=q, category=cat, per_page=20)
        latencies.append((time.perf_counter() - t0) * 1000)
    result = {
        "database": databases.dialect, "settings": databases.settings(), "documents": filed, "batch": args.batch,
        "seconds": round(elapsed, 2), "documents_per_second": round(filed / elapsed, 1),
        "cpu_ms_per_document": round(cpu * 1000 / filed, 2), "projected_200k_minutes": round(200_000 / (filed / elapsed) / 60, 1),
        "search_p50_ms": round(_quantile(latencies, 0.5), 2), "search_p95_ms": round(_quantile(latencies, 0.95), 2),
        "queries": len(latencies), "path": "one by one" if args.one_by_one else "batch",
        "parsing_processes": 0 if args.one_by_one else args.processes, "python": platform.python_version(), "cpus": os.cpu_count(),
    }
    reset_engines()
    if args.keep:
        print(f"kept: {workdir}", file=sys.stderr)
    else:
        shutil.rmtree(workdir, ignore_errors=True)  # a 200,000-document run leaves about 4 GB of database and blobs
    return result


def main() -> None:
    """Parse arguments, run, print (and optionally save) the figures."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--documents", type=int, default=200_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--seed", type=int, default=8)
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--json", default=None)
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (SQLite database and blobs)")
    parser.add_argument("--progress", action="store_true")
    parser.add_argument("--processes", type=int, default=0,
                        help="worker processes that check and parse each batch (0: in the filing process)")
    parser.add_argument("--one-by-one", action="store_true",
                        help="file each document with service.file_document, as before the batch path")
    args = parser.parse_args()
    result = run(args)
    print(json.dumps(result, ensure_ascii=False, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n")


if __name__ == "__main__":
    main()
