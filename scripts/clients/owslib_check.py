"""OWSLib (the usual Python client for OGC APIs) against a running bando: every answer it reads
is compared with what PostgreSQL itself says, so a wrong count, a broken `next` link or an HTML
landing page fails here.

    owslib_check.py BANDO_URL DATABASE_URL
"""

import subprocess
import sys
from urllib.parse import parse_qsl, urlsplit

from owslib.ogcapi.features import Features

FEATURES_CORE = "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core"
FILTER = "http://www.opengis.net/spec/ogcapi-features-3/1.0/conf/filter"
PAGE = 300


def sql(db_url: str, query: str) -> str:
    """One value from PostgreSQL (psql), the oracle OWSLib's answers are checked against."""
    out = subprocess.run(
        ["psql", db_url, "-XAtq", "-v", "ON_ERROR_STOP=1"],
        input=query,  # on stdin: a query can be longer than a command line may be
        check=True,
        capture_output=True,
        text=True,
    )
    return out.stdout.strip()


def check(condition: bool, message: str) -> None:
    if not condition:
        raise AssertionError(message)


def main(url: str, db_url: str) -> None:
    # The landing page with requests' default `Accept: */*` (what issue 16 found as HTML).
    api = Features(url + "/")
    rels = {link["rel"] for link in api.links}
    for rel in ("conformance", "data", "service-desc"):
        check(rel in rels, f"landing page: no {rel} link in {sorted(rels)}")
    print("owslib: landing page is JSON with conformance, data and service-desc")

    classes = api.conformance()["conformsTo"]
    for want in (FEATURES_CORE, FILTER):
        check(want in classes, f"conformance: {want} missing")
    print(f"owslib: conformance lists {len(classes)} classes")

    listed = api.feature_collections()
    # An anonymous client sees the layers published for everyone (the catalog's 'public').
    published = int(
        sql(db_url, "SELECT count(*) FROM platform.layer_catalog WHERE access = 'public'")
    )
    check(
        len(listed) == published and len(set(listed)) == published,
        f"collections: {len(listed)} listed, {published} public in platform.layer_catalog",
    )
    check("parcels" in listed, f"collections: no parcels in {listed}")
    check("water_meters" not in listed, "collections: a staff-only layer listed to anyone")
    print(f"owslib: {len(listed)} feature collections, as many as the catalog publishes")

    queryables = api.collection_queryables("parcels")["properties"]
    for name in ("land_use_code", "commune_code", "sheet_number", "geometry"):
        check(name in queryables, f"queryables: no {name} in {sorted(queryables)}")
    check("owner_name" not in queryables, "queryables: restricted owner_name is public")
    print(f"owslib: parcels have {len(queryables)} queryables")

    # bbox: a box around the westmost parcel's centre, compared with PostGIS.
    w, s, e, n = (
        float(v)
        for v in sql(
            db_url,
            "SELECT concat_ws(',', ST_X(c) - 0.004, ST_Y(c) - 0.004, ST_X(c) + 0.004, ST_Y(c) + 0.004)"
            " FROM (SELECT ST_Transform(ST_Centroid(geom), 4326) AS c FROM land.parcels"
            " ORDER BY ST_XMin(geom_3857), id LIMIT 1) x",
        ).split(",")
    )
    want = int(
        sql(
            db_url,
            "SELECT count(*) FROM land.parcels WHERE ST_Intersects(geom_3857,"
            f" ST_Transform(ST_MakeEnvelope({w}, {s}, {e}, {n}, 4326), 3857))",
        )
    )
    page = api.collection_items("parcels", bbox=[w, s, e, n], limit=1000)
    check(want > 0, "bbox: the box around a parcel holds no parcel in PostGIS")
    check(page["numberMatched"] == want, f"bbox: numberMatched {page['numberMatched']}, PostGIS {want}")
    check(len(page["features"]) == want, f"bbox: {len(page['features'])} features, PostGIS {want}")
    print(f"owslib: bbox gives {want} parcels, as PostGIS does")

    # A CQL2 text filter, compared with the same condition in SQL.
    code = sql(db_url, "SELECT land_use_code FROM land.parcels GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")
    want = int(
        sql(
            db_url,
            f"SELECT count(*) FROM land.parcels WHERE land_use_code = '{code}' AND sheet_number <= 5",
        )
    )
    page = api.collection_items(
        "parcels", filter=f"land_use_code = '{code}' AND sheet_number <= 5", limit=1
    )
    check(want > 0, f"filter: no parcel with land use {code} on sheets 1-5")
    check(page["numberMatched"] == want, f"filter: numberMatched {page['numberMatched']}, SQL {want}")
    print(f"owslib: CQL2 filter matches {want} parcels, as SQL does")

    # Every parcel, page by page through the `next` links bando writes (opaque cursors).
    total = int(sql(db_url, "SELECT count(*) FROM land.parcels"))
    ids = set()
    params = {"limit": PAGE}
    pages = 0
    while True:
        page = api.collection_items("parcels", **params)
        pages += 1
        check(pages <= total // PAGE + 2, f"paging: more than {pages} pages for {total} parcels")
        for feature in page["features"]:
            check(feature["id"] not in ids, f"paging: parcel {feature['id']} came twice")
            ids.add(feature["id"])
        nxt = [link["href"] for link in page["links"] if link["rel"] == "next"]
        if not nxt:
            break
        params = dict(parse_qsl(urlsplit(nxt[0]).query))
    check(len(ids) == total, f"paging: {len(ids)} parcels through next links, PostgreSQL holds {total}")
    print(f"owslib: {total} parcels in {pages} pages through next links, as many as PostgreSQL holds")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1].rstrip("/"), sys.argv[2])
