"""QGIS (Debian's python3-qgis, headless) against a running bando, as the province's GIS staff
use it: an OGC API – Features layer must read every parcel, and a vector tile layer over bando's
XYZ tiles must draw parcels where PostGIS has them and nothing where it has none.

    QT_QPA_PLATFORM=offscreen /usr/bin/python3 qgis_check.py BANDO_URL DATABASE_URL OUT_DIR
"""

import json
import os
import subprocess
import sys
import urllib.request

from qgis.core import (
    QgsApplication,
    QgsCoordinateReferenceSystem,
    QgsMapRendererSequentialJob,
    QgsMapSettings,
    QgsRectangle,
    QgsVectorLayer,
    QgsVectorTileBasicRenderer,
    QgsVectorTileLayer,
)
from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtGui import QColor

SIZE = 256  # pixels of the rendered square
METRES_PER_PIXEL = 4.0  # about z15: parcels, not the z8–z12 overview
STEP = 4  # pixels between two sampled points


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


def oapif_reads_every_parcel(url: str, db_url: str) -> None:
    layer = QgsVectorLayer(
        f"url='{url}' typename='parcels' pagingEnabled='true' pageSize='500'", "parcels", "OAPIF"
    )
    # Not layer.error(): QGIS 3.22 crashes reading it from a valid OAPIF layer.
    check(layer.isValid(), "OAPIF: QGIS cannot open parcels (see its log above)")
    total = int(sql(db_url, "SELECT count(*) FROM land.parcels"))
    ids = set()
    count = 0
    fields = layer.fields().names()
    check("parcel_number" in fields, f"OAPIF: no parcel_number in {fields}")
    for feature in layer.getFeatures():
        count += 1
        ids.add((feature["commune_code"], feature["sheet_number"], feature["parcel_number"]))
        check(feature.hasGeometry() and not feature.geometry().isEmpty(), "OAPIF: a parcel has no geometry")
    check(count == total, f"OAPIF: QGIS read {count} parcels, PostgreSQL holds {total}")
    check(len(ids) == total, f"OAPIF: {len(ids)} distinct parcels of {count} read")
    print(f"qgis: OAPIF layer read all {total} parcels")


def vector_tiles_draw_the_parcels(url: str, db_url: str, out_dir: str) -> None:
    with urllib.request.urlopen(f"{url}/tiles/parcels.json") as r:
        tilejson = json.load(r)
    template = tilejson["tiles"][0]
    check(template.endswith("/tiles/parcels/{z}/{x}/{y}.mvt"), f"TileJSON template {template}")
    layer = QgsVectorTileLayer(
        f"type=xyz&url={template}&zmin={tilejson['minzoom']}&zmax={tilejson['maxzoom']}", "parcels"
    )
    check(layer.isValid(), f"vector tiles: QGIS cannot open {template}")
    fill = QColor(200, 0, 0)
    layer.setRenderer(_renderer(fill))

    # Centred on the westmost parcel: parcels on the east half, open land on the west.
    cx, cy = (
        float(v)
        for v in sql(
            db_url,
            "SELECT concat_ws(',', ST_XMin(geom_3857), ST_Y(ST_Centroid(geom_3857)))"
            " FROM land.parcels ORDER BY ST_XMin(geom_3857), id LIMIT 1",
        ).split(",")
    )
    half = SIZE * METRES_PER_PIXEL / 2
    extent = QgsRectangle(cx - half, cy - half, cx + half, cy + half)
    settings = QgsMapSettings()
    settings.setDestinationCrs(QgsCoordinateReferenceSystem("EPSG:3857"))
    settings.setOutputSize(QSize(SIZE, SIZE))
    settings.setOutputDpi(96)
    settings.setBackgroundColor(QColor(255, 255, 255))
    settings.setExtent(extent)
    settings.setLayers([layer])
    job = QgsMapRendererSequentialJob(settings)
    job.start()
    job.waitForFinished()
    image = job.renderedImage()
    image.save(os.path.join(out_dir, "qgis-parcels-tiles.png"))
    check(not job.errors(), f"vector tiles: rendering errors {[e.message for e in job.errors()]}")

    # Every STEP-th pixel: drawn (not white) against PostGIS's answer for its centre point.
    # Pixels near a parcel outline may go either way (stroke width, antialiasing): skipped.
    e = settings.visibleExtent()
    mpp = e.width() / SIZE
    points = []
    for row in range(STEP // 2, SIZE, STEP):
        for col in range(STEP // 2, SIZE, STEP):
            points.append((col, row, e.xMinimum() + (col + 0.5) * mpp, e.yMaximum() - (row + 0.5) * mpp))
    values = ",".join(f"({c},{r},{x},{y})" for c, r, x, y in points)
    rows = sql(
        db_url,
        "SELECT string_agg(c || ':' || r || ':' || inside::int, ' ') FROM ("
        " SELECT p.c, p.r, EXISTS (SELECT 1 FROM land.parcels WHERE ST_Intersects(geom_3857, pt)) AS inside,"
        f"  EXISTS (SELECT 1 FROM land.parcels WHERE ST_DWithin(ST_Boundary(geom_3857), pt, {2 * mpp})) AS edge"
        f" FROM (SELECT c, r, ST_SetSRID(ST_MakePoint(x, y), 3857) AS pt FROM (VALUES {values}) v(c, r, x, y)) p"
        ") s WHERE NOT edge",
    )
    agree = inside_drawn = inside_total = outside_total = 0
    for item in rows.split():
        c, r, inside = (int(v) for v in item.split(":"))
        drawn = image.pixelColor(c, r).name() != "#ffffff"
        inside_total += inside
        outside_total += 1 - inside
        inside_drawn += inside and drawn
        agree += drawn == bool(inside)
    sampled = inside_total + outside_total
    check(inside_total > 20 and outside_total > 20, f"vector tiles: sample holds {inside_total} parcel and {outside_total} open points")
    check(inside_drawn >= 0.95 * inside_total, f"vector tiles: {inside_drawn} of {inside_total} parcel points drawn")
    check(agree >= 0.95 * sampled, f"vector tiles: {agree} of {sampled} sampled pixels agree with PostGIS")
    print(
        f"qgis: vector tiles drew {inside_drawn}/{inside_total} parcel points, "
        f"{agree}/{sampled} sampled pixels agree with PostGIS"
    )


def _renderer(fill: QColor) -> QgsVectorTileBasicRenderer:
    renderer = QgsVectorTileBasicRenderer()
    renderer.setStyles(
        QgsVectorTileBasicRenderer.simpleStyle(fill, QColor(120, 0, 0), 0.2, fill, 0.3, fill, fill, 1.0)
    )
    return renderer


def main(url: str, db_url: str, out_dir: str) -> None:
    QgsApplication.setPrefixPath("/usr", True)  # where Debian installs QGIS and its providers
    app = QgsApplication([], False)
    app.initQgis()
    try:
        oapif_reads_every_parcel(url, db_url)
        vector_tiles_draw_the_parcels(url, db_url, out_dir)
    finally:
        app.exitQgis()


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(sys.argv[1].rstrip("/"), sys.argv[2], sys.argv[3])
