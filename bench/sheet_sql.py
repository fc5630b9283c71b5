#!/usr/bin/env python3
"""Turns the statements one information sheet sent (a PostgreSQL log written with
log_min_duration_statement = 0, read on stdin) into a pgbench script (stdout) that runs the same
statements, in the same order, for a parcel of `bench_sheet_ids` — so bench/portal.sh compares
the sheet with its own SQL as it is today, with no copy of it to drift."""
import re
import sys

records, current = [], None
for line in sys.stdin.read().split("\n"):
    if re.match(r"^\d{4}-\d\d-\d\d ", line):
        if current:
            records.append(current)
        current = line
    elif current is not None:
        current += "\n" + line
if current:
    records.append(current)

# The sheet's statements, as executed, on the one connection its first statement (the parcel's
# lookup) ran on: anything else in the log (background checks) is on other connections.
executed = []
for r in records:
    m = re.match(r"\S+ \S+ \S+ \[(\d+)\] LOG:\s+duration: [0-9.]+ ms\s+execute [^:]*: (.*)", r, re.S)
    if m:
        executed.append((m[1], m[2]))
first = next((pid for pid, sql in executed if "ST_AsEWKB(p.geom) AS ewkb" in sql), None)
if first is None:
    sys.exit("no parcel lookup in the log")
statements = []
for pid, sql in executed:
    if pid != first or "pg_backend_pid" in sql:
        continue
    body = "\n".join(x[1:] if x.startswith("\t") else x for x in sql.split("\n")).rstrip()
    statements.append(body)
# From the lookup on.
while statements and "ST_AsEWKB(p.geom) AS ewkb" not in statements[0]:
    statements.pop(0)

out = [
    "\\set k random(1, :n)",
    "SELECT id FROM bench_sheet_ids WHERE k = :k",
    "\\gset",
]
for i, s in enumerate(statements):
    s = s.replace("ST_GeomFromEWKB($1)", "ST_GeomFromEWKB(decode(:ewkb, 'hex'))")
    if i == 0:
        # The parcel by id: its geometry kept and passed back as bando passes it.
        if "ST_AsEWKB(p.geom) AS ewkb" not in s:
            sys.exit("the first statement is not the parcel's lookup:\n" + s)
        s = s.replace("ST_AsEWKB(p.geom) AS ewkb", "encode(ST_AsEWKB(p.geom), 'hex') AS ewkb")
        s = s.replace("p.id = $1", "p.id = :id")
        out.append(s + "\n\\gset")
        continue
    # The other parameters as the sheet binds them: no drafts, the in-force plans' documents
    # (none in the sample), buildings of at least 0.5 m² on the parcel.
    s = s.replace("($1 OR", "(false OR").replace("ANY($1)", "ANY('{}'::bigint[])")
    s = s.replace(">= $2", ">= 0.5")
    if "$" in re.sub(r"'[^']*'", "", s):
        sys.exit("a parameter this script does not know:\n" + s)
    out.append(s + ";")
if len(statements) < 5:
    sys.exit(f"only {len(statements)} statements in the log")
print("\n".join(out))
