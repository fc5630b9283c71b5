# Shared by bench scripts (source it).

# parcel_tile_paths URL OUT: the z14–16 tile paths holding parcels in the database at URL,
# shuffled with a fixed seed (at most 5,000), one `/tiles/parcels/z/x/y.mvt` per line in OUT;
# fails when fewer than 100 tiles hold parcels.
parcel_tile_paths() {
  psql "$1" -At -F' ' -c "WITH e AS (SELECT ST_Transform(ST_SetSRID(ST_Extent(geom_3857), 3857), 4326) AS b FROM land.parcels)
  SELECT z, x, y FROM e, generate_series(14, 16) z,
    LATERAL (SELECT floor((ST_XMin(b) + 180) / 360 * 2^z)::int AS x0, floor((ST_XMax(b) + 180) / 360 * 2^z)::int AS x1,
                    floor((1 - ln(tan(radians(ST_YMax(b))) + 1 / cos(radians(ST_YMax(b)))) / pi()) / 2 * 2^z)::int AS y0,
                    floor((1 - ln(tan(radians(ST_YMin(b))) + 1 / cos(radians(ST_YMin(b)))) / pi()) / 2 * 2^z)::int AS y1) r,
    generate_series(r.x0, r.x1) x, generate_series(r.y0, r.y1) y
  WHERE EXISTS (SELECT 1 FROM land.parcels p WHERE p.geom_3857 && ST_TileEnvelope(z, x, y))" |
    python3 -c 'import random, sys
t = [l.split() for l in sys.stdin if l.strip()]
random.Random(2025).shuffle(t)
sys.stdout.writelines(f"/tiles/parcels/{z}/{x}/{y}.mvt\n" for z, x, y in t[:5000])' >"$2"
  local n
  n=$(wc -l <"$2")
  [[ $n -gt 100 ]] || { echo "only $n tiles hold parcels" >&2; return 1; }
}

# bench_cluster DIR: starts bando's private cluster in DIR/state (with "$bando"), sets $url to
# it and $pid to empty; on exit the server in $pid (when set) and the cluster are stopped.
bench_cluster() {
  bench_state=$1/state
  url=$("$bando" --data-dir "$bench_state" db start --tcp 2>/dev/null | tail -1)
  pid=
  trap bench_cleanup EXIT
}
bench_cleanup() {
  [[ -n ${pid:-} ]] && kill "$pid" 2>/dev/null || true
  wait 2>/dev/null || true
  "$bando" --data-dir "$bench_state" db stop >/dev/null 2>&1 || true
}
