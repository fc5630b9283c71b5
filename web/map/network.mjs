// Utility networks in the planners' map (issue 15), for staff. Clicking a water pipe offers
// "isolate here" in the identify popup: bando's `/networks/water/isolate` answers the valves to
// close, the pipes isolated and cut off, the meters and hydrants out of service, drawn over the
// map by role and counted in the panel; each valve to close can be marked as failed to close,
// which asks again with it in `failed=` and shows how much the isolation grows. Clicking a
// power line offers "outage here" (`/networks/power/outage`: the lines, poles and customers cut
// off, the open switches at the edge). Each network's quality report
// (`/networks/{water|power}/check`: crossings, dangles, unconnected devices, valves or switches
// off their line, islands without a source) is drawn as an overlay with a count per finding: its
// findings are computed from the live graph, not rows of a table, so they are not a tile layer.
// The server decides what each reader may see (meters for staff, customer references for
// administrators); this panel is only shown to signed-in staff.

const SOURCE = 'bando-network';
const CHECK = 'bando-network-check';
const STAFF = ['planner', 'land_officer', 'ioc_operator', 'admin'];
/** The colour of each role in an isolation answer. */
export const ROLE_COLOURS = {
  isolated: '#dc2626', cut_off: '#f59e0b', close: '#16a34a', already_closed: '#1d4ed8',
  inoperable: '#7c3aed', failed: '#111827', out_of_service: '#be185d', break: '#000000',
  outage: '#000000', open: '#1d4ed8',
};
/** The colour of each finding of the quality report. */
export const FINDING_COLOURS = {
  crossing: '#dc2626', dangle: '#f59e0b', unconnected: '#7c3aed', valve_off_pipe: '#0891b2',
  switch_off_line: '#0891b2', island: '#be185d',
};
/** The findings each network's report lists, in order. */
const FINDINGS = {
  water: ['crossing', 'dangle', 'unconnected', 'valve_off_pipe', 'island'],
  power: ['crossing', 'dangle', 'unconnected', 'switch_off_line', 'island'],
};
const PIPES_LAYER = 'water_pipes';
const LINES_LAYER = 'power_lines';

const EMPTY = { type: 'FeatureCollection', features: [] };

function match(property, colours) {
  return ['match', ['get', property], ...Object.entries(colours).flat(), '#888888'];
}

function addLayers(map) {
  map.addSource(SOURCE, { type: 'geojson', data: EMPTY });
  map.addSource(CHECK, { type: 'geojson', data: EMPTY });
  const lines = ['match', ['geometry-type'], ['LineString', 'MultiLineString'], true, false];
  const points = ['match', ['geometry-type'], ['Point', 'MultiPoint'], true, false];
  map.addLayer({ id: 'bando-network-line', type: 'line', source: SOURCE, filter: lines,
    paint: { 'line-color': match('role', ROLE_COLOURS), 'line-width': 5, 'line-opacity': 0.85 } });
  map.addLayer({ id: 'bando-network-point', type: 'circle', source: SOURCE, filter: points,
    paint: { 'circle-color': match('role', ROLE_COLOURS), 'circle-radius': 6,
      'circle-stroke-color': '#ffffff', 'circle-stroke-width': 1.5 } });
  map.addLayer({ id: 'bando-network-check-line', type: 'line', source: CHECK, filter: lines,
    paint: { 'line-color': match('finding', FINDING_COLOURS), 'line-width': 4, 'line-dasharray': [2, 1] } });
  map.addLayer({ id: 'bando-network-check-point', type: 'circle', source: CHECK, filter: points,
    paint: { 'circle-color': match('finding', FINDING_COLOURS), 'circle-radius': 7,
      'circle-stroke-color': '#ffffff', 'circle-stroke-width': 2 } });
}

/** The box [w, s, e, n] of a FeatureCollection's coordinates, or null when it has none. */
function boxOf(fc) {
  let box = null;
  const visit = (c) => {
    if (typeof c[0] === 'number') {
      box = box ? [Math.min(box[0], c[0]), Math.min(box[1], c[1]), Math.max(box[2], c[0]), Math.max(box[3], c[1])] : [c[0], c[1], c[0], c[1]];
    } else c.forEach(visit);
  };
  for (const f of fc.features) if (f.geometry) visit(f.geometry.coordinates);
  return box;
}

function li(text, data = {}) {
  const item = document.createElement('li');
  Object.assign(item.dataset, data);
  item.textContent = text;
  return item;
}

/**
 * The network panel in `elements.panel` (`summary` and `valves` lists, `findings` list, `check`,
 * `checkPower` and `clear` buttons), shown when `user()` is staff. Returns `{ actions(features,
 * lngLat), isolate(lngLat, failed), outage(lngLat), check(kind), clear(), refresh() }`; `actions`
 * is what the identify popup offers for the features clicked (the isolate button on a water
 * pipe, the outage button on a power line, for staff).
 */
export function createNetwork(map, { http, language, status, user, elements }) {
  addLayers(map);
  const { panel, summary, valves, findings, check, checkPower, clear } = elements;
  let last = null;
  let report = null;
  const isStaff = () => (user()?.roles ?? []).some((r) => STAFF.includes(r));
  const number = (v, digits = 0) => language.numberFormat(digits).format(v);

  function render() {
    summary.replaceChildren();
    valves.replaceChildren();
    findings.replaceChildren();
    if (last?.kind === 'power') {
      const s = last.fc.summary;
      summary.append(
        li(language.t('outageLines', number(s.lines), number(s.length_m, 1)), { count: 'lines' }),
        li(language.t('outagePoles', number(s.poles)), { count: 'poles' }),
        li(language.t('outageCustomers', number(s.customers)), { count: 'customers' }),
        li(language.t('outageSwitches', number(s.open_switches)), { count: 'open_switches' }),
      );
    } else if (last) {
      const s = last.fc.summary;
      summary.append(
        li(language.t('isolationValves', number(s.valves_to_close)), { count: 'valves_to_close' }),
        li(language.t('isolationPipes', number(s.pipes), number(s.length_m, 1)), { count: 'pipes' }),
        li(language.t('isolationMeters', number(s.meters + s.cut_off_meters)), { count: 'meters' }),
        li(language.t('isolationHydrants', number(s.hydrants)), { count: 'hydrants' }),
      );
      const base = last.fc.without_failure;
      if (base) {
        summary.append(li(language.t('isolationGrowth', last.failed.join(', '),
          number(s.length_m - base.length_m, 1), number(s.meters + s.cut_off_meters - base.meters - base.cut_off_meters)),
        { count: 'growth' }));
      }
      const codes = new Map(last.fc.features.filter((f) => f.properties.part === 'valve')
        .map((f) => [f.properties.id, f.properties.code ?? String(f.properties.id)]));
      for (const id of last.fc.valves_to_close) {
        const item = li('', { valve: String(id) });
        const swatch = document.createElement('span');
        swatch.className = 'swatch';
        swatch.style.background = ROLE_COLOURS.close;
        const failed = document.createElement('button');
        failed.type = 'button';
        failed.dataset.action = 'failed';
        failed.textContent = language.t('valveFailed', codes.get(id) ?? String(id));
        failed.addEventListener('click', () => {
          network.isolate(last.lngLat, [...last.failed, id])
            .catch((e) => status.error(`${language.t('isolationFailed')}: ${e.message}`));
        });
        item.append(swatch, ` ${codes.get(id) ?? id} `, failed);
        valves.append(item);
      }
    }
    if (report) {
      const prefix = report.kind === 'power' ? 'powerFinding_' : 'finding_';
      for (const finding of FINDINGS[report.kind]) {
        const n = report.fc.features.filter((f) => f.properties.finding === finding).length;
        const item = li('', { finding });
        const swatch = document.createElement('span');
        swatch.className = 'swatch';
        swatch.style.background = FINDING_COLOURS[finding];
        item.append(swatch, ` ${language.t(prefix + finding)}: ${number(n)}`);
        findings.append(item);
      }
    }
  }

  /** Draws a trace's answer, the whole of it in view (the valves to close or the customers cut
   * off may lie beyond the clicked street), and counts it in the panel. */
  function show(answer) {
    map.getSource(SOURCE).setData(answer.fc);
    const box = boxOf(answer.fc);
    if (box) map.fitBounds([[box[0], box[1]], [box[2], box[3]]], { padding: 60, maxZoom: 18, duration: 0 });
    last = answer;
    panel.hidden = false;
    render();
  }

  const network = {
    /** What the popup offers for `features` clicked at `lngLat` (a button, or null). */
    actions(features, lngLat) {
      if (!isStaff()) return null;
      const button = document.createElement('button');
      button.type = 'button';
      if (features.some((f) => f.layer === PIPES_LAYER)) {
        button.dataset.action = 'isolate';
        button.textContent = language.t('isolateHere');
        button.addEventListener('click', () => {
          network.isolate(lngLat).catch((e) => status.error(`${language.t('isolationFailed')}: ${e.message}`));
        });
      } else if (features.some((f) => f.layer === LINES_LAYER)) {
        button.dataset.action = 'outage';
        button.textContent = language.t('outageHere');
        button.addEventListener('click', () => {
          network.outage(lngLat).catch((e) => status.error(`${language.t('outageFailed')}: ${e.message}`));
        });
      } else return null;
      return button;
    },
    /** Isolates the break nearest `lngLat` with `failed` valves unable to close; the answer. */
    async isolate(lngLat, failed = []) {
      const params = new URLSearchParams({ point: `${lngLat.lng.toFixed(7)},${lngLat.lat.toFixed(7)}` });
      if (failed.length) params.set('failed', failed.join(','));
      const fc = await http.json(`/networks/water/isolate?${params}`);
      show({ kind: 'water', fc, lngLat, failed });
      return fc;
    },
    /** What an outage of the power line nearest `lngLat` cuts off; the answer. */
    async outage(lngLat) {
      const params = new URLSearchParams({ point: `${lngLat.lng.toFixed(7)},${lngLat.lat.toFixed(7)}` });
      const fc = await http.json(`/networks/power/outage?${params}`);
      show({ kind: 'power', fc, lngLat, failed: [] });
      return fc;
    },
    /** Draws the quality report of the `kind` network (water or power); resolves to it. */
    async check(kind = 'water') {
      const fc = await http.json(`/networks/${kind}/check`);
      report = { kind, fc };
      map.getSource(CHECK).setData(fc);
      render();
      return fc;
    },
    clear() {
      map.getSource(SOURCE).setData(EMPTY);
      map.getSource(CHECK).setData(EMPTY);
      last = null;
      report = null;
      render();
    },
    refresh() {
      panel.hidden = !isStaff();
      if (panel.hidden) network.clear();
    },
  };
  check.addEventListener('click', () => {
    network.check('water').catch((e) => status.error(`${language.t('checkFailed')}: ${e.message}`));
  });
  checkPower.addEventListener('click', () => {
    network.check('power').catch((e) => status.error(`${language.t('checkFailed')}: ${e.message}`));
  });
  clear.addEventListener('click', () => network.clear());
  language.onChange(render);
  return network;
}
