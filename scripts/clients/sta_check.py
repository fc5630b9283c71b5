"""bando's SensorThings API read and written by FROST's own Python client (frost-sta-client,
PyPI), checked against what PostgreSQL holds (issue 14's test oracle).

    sta_check.py BANDO_URL DATABASE_URL OPERATOR_TOKEN

Anonymous: the Things and Datastreams the public may read (every public datastream, no private
one), a Datastream found by id with its unit, its Thing by navigation, its Observations newest
first, `$count`, `$top`/`$skip` paging and `$filter` on the result. As an IOC operator (a bearer
token, Keycloak-shaped, through the client's auth hook): an Observation created with
`service.create` gets its id from the answer's `Location`, is read back by id and stored in
`ioc.observations`. Anonymous creation is refused (401). Any mismatch fails the script.
"""

import datetime
import subprocess
import sys

import frost_sta_client as fsc
import requests
from frost_sta_client.service.auth_handler import AuthHandler


class Bearer(AuthHandler):
    """The client's auth hook, sending a bearer token (it ships Basic only)."""

    def __init__(self, token):
        super().__init__(None, None)
        self.token = token

    def add_auth_header(self):
        token = self.token

        def add(request):
            request.headers["Authorization"] = f"Bearer {token}"
            return request

        return add


def sql(db_url, query):
    out = subprocess.run(["psql", db_url, "-AtXc", query], check=True, capture_output=True, text=True)
    return [line for line in out.stdout.splitlines() if line]


def check(what, got, want):
    if got != want:
        print(f"FAIL {what}: got {got!r}, want {want!r}")
        sys.exit(1)
    print(f"ok   {what}")


def main():
    url, db_url, token = sys.argv[1:4]
    root = f"{url}/sta/v1.1"
    public = fsc.SensorThingsService(root)

    # One datastream made private: the public must not see it.
    sql(db_url, "UPDATE ioc.datastreams SET public = false WHERE id = (SELECT max(id) FROM ioc.datastreams) RETURNING id")
    want_ds = [int(i) for i in sql(db_url, "SELECT id FROM ioc.datastreams WHERE public ORDER BY id")]
    if not want_ds:
        print("FAIL the sample has no public datastream")
        sys.exit(1)
    private = sql(db_url, "SELECT count(*) FROM ioc.datastreams WHERE NOT public")[0]
    check("a private datastream exists", private, "1")
    listed = public.datastreams().query().top(1000).list()
    got_ds = sorted(int(d.id) for d in listed.entities)
    check(f"public datastreams listed ({len(want_ds)}; {private} private ones hidden)", got_ds, want_ds)
    counted = public.datastreams().query().count().top(1).list()
    check("$count of datastreams", counted.count, len(want_ds))

    ds_id = want_ds[0]
    ds = public.datastreams().find(ds_id)
    unit = sql(db_url, f"SELECT unit_symbol FROM ioc.datastreams WHERE id = {ds_id}")[0]
    check("a datastream found by id", int(ds.id), ds_id)
    check("its unit of measurement", ds.unit_of_measurement.symbol, unit)
    want_thing = int(sql(db_url, f"SELECT thing_id FROM ioc.datastreams WHERE id = {ds_id}")[0])
    things = public.things().query().expand("Datastreams").top(1000).list().entities
    owners = [
        int(t.id)
        for t in things
        if t.datastreams is not None and ds_id in {int(d.id) for d in t.datastreams.entities}
    ]
    check("its Thing, by the Things' $expand=Datastreams", owners, [want_thing])

    # Readings with known values, in the past so they sort before anything the server adds.
    operator = fsc.SensorThingsService(root, auth_handler=Bearer(token))
    base = datetime.datetime(2026, 1, 2, 3, 0, tzinfo=datetime.timezone.utc)
    created = []
    for k, value in enumerate([11.5, 42.25, 73.0]):
        obs = fsc.Observation(
            result=value,
            phenomenon_time=(base + datetime.timedelta(minutes=k)).isoformat(),
            datastream=fsc.Datastream(id=ds_id),
        )
        operator.create(obs)
        created.append((obs.id, value))
    for obs_id, value in created:
        check(f"observation {obs_id} read back", public.observations().find(obs_id).result, value)
        stored = sql(db_url, f"SELECT result_number FROM ioc.observations WHERE id = {int(obs_id)}")
        check(f"observation {obs_id} stored", [float(v) for v in stored], [value])

    in_db = int(sql(db_url, f"SELECT count(*) FROM ioc.observations WHERE datastream_id = {ds_id}")[0])
    obs_query = ds.get_observations().query().count().orderby("phenomenonTime", "desc").top(2)
    page = obs_query.list()
    check("$count of the datastream's observations", page.count, in_db)
    newest = sql(
        db_url,
        f"SELECT id FROM ioc.observations WHERE datastream_id = {ds_id} ORDER BY phenomenon_time DESC, id DESC LIMIT 3",
    )
    check("newest first, $top 2", [int(o.id) for o in page.entities], [int(i) for i in newest[:2]])
    skipped = ds.get_observations().query().orderby("phenomenonTime", "desc").top(1).skip(2).list()
    check("$skip 2", [int(o.id) for o in skipped.entities], [int(newest[2])])
    between = ds.get_observations().query().filter("result gt 40 and result lt 50").top(100).list()
    want = sql(
        db_url,
        f"SELECT id FROM ioc.observations WHERE datastream_id = {ds_id} AND result_number > 40 AND result_number < 50 ORDER BY id",
    )
    check("$filter on the result", sorted(int(o.id) for o in between.entities), [int(i) for i in want])

    r = requests.post(f"{root}/Observations", json={"result": 1, "Datastream": {"@iot.id": ds_id}}, timeout=30)
    check("anonymous creation refused", r.status_code, 401)


if __name__ == "__main__":
    main()
