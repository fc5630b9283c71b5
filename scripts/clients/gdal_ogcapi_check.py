"""GDAL's OGCAPI: driver reading a collection's vector tiles (OGC API – Tiles) from a running
bando, through pyogrio's own GDAL (PyPI wheel, GDAL 3.12): Debian 12's GDAL 3.6 cannot read
vector tiles through OGCAPI: from any server (docs/clients.md). The parcels GDAL reads from the
tiles of one zoom level in a box are compared with the parcels PostGIS finds in that box.

    gdal_ogcapi_check.py BANDO_URL DATABASE_URL
"""

import subprocess
import sys

import pyogrio
from pyogrio.raw import read

ZOOM = 15  # parcels themselves, not the z8–z12 overview
HALF = 1000.0  # metres: half the side of the box read (sample parcels are ~340 m across)


def sql(db_url: str, query: str) -> str:
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


def keys(db_url: str, where: str) -> set:
    rows = sql(
        db_url,
        "SELECT string_agg(concat_ws(':', commune_code, sheet_number, parcel_number), ' ')"
        f" FROM land.parcels WHERE {where}",
    )
    return set(rows.split())


def main(url: str, db_url: str) -> None:
    source = f"OGCAPI:{url}/collections/parcels"
    layers = [name for name, _ in pyogrio.list_layers(source)]
    check(f"Zoom level {ZOOM}" in layers, f"OGCAPI: no zoom level {ZOOM} in {layers}")
    print(f"gdal {pyogrio.__gdal_version_string__}: OGCAPI: lists {len(layers)} zoom levels of parcels")

    # A box centred on the west edge of the westmost parcel, in the tile matrix set's CRS
    # (EPSG:3857): parcels in its east half, open land in its west half.
    cx, cy = (
        float(v)
        for v in sql(
            db_url,
            "SELECT concat_ws(',', ST_XMin(geom_3857), ST_Y(ST_Centroid(geom_3857)))"
            " FROM land.parcels ORDER BY ST_XMin(geom_3857), id LIMIT 1",
        ).split(",")
    )
    box = (cx - HALF, cy - HALF, cx + HALF, cy + HALF)
    envelope = f"ST_MakeEnvelope({box[0]}, {box[1]}, {box[2]}, {box[3]}, 3857)"
    # MINX…MAXY (the box in the tile matrix set's CRS): GDAL's OGCAPI: driver takes the
    # collection's CRS84 extent for EPSG:3857 metres when it picks vector tiles and would read
    # only the tile at 0°, 0° (docs/clients.md); these open options are its documented override.
    meta, _, geometry, fields = read(
        source,
        layer=f"Zoom level {ZOOM}",
        bbox=box,
        columns=["commune_code", "sheet_number", "parcel_number"],
        MINX=box[0],
        MINY=box[1],
        MAXX=box[2],
        MAXY=box[3],
    )
    check(len(geometry) > 0, f"OGCAPI: no parcel read from the tiles of {box}")
    names = list(meta["fields"])
    got = {
        ":".join(str(fields[names.index(c)][i]) for c in ("commune_code", "sheet_number", "parcel_number"))
        for i in range(len(geometry))
    }
    # Tiles are clipped and quantised: a parcel within a metre of the box edge may go either way.
    inside = keys(db_url, f"ST_Within(geom_3857, ST_Buffer({envelope}, -1))")
    near = keys(db_url, f"ST_Intersects(geom_3857, ST_Buffer({envelope}, 1))")
    check(len(inside) > 0, "the box holds no whole parcel: choose a larger box")
    missing = inside - got
    check(not missing, f"OGCAPI: parcels inside the box missing from the tiles: {sorted(missing)[:10]}")
    extra = got - near
    check(not extra, f"OGCAPI: parcels from the tiles that PostGIS has not in the box: {sorted(extra)[:10]}")
    print(f"gdal: OGCAPI: vector tiles at z{ZOOM} give {len(got)} parcels in the box, as PostGIS does")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1].rstrip("/"), sys.argv[2])
