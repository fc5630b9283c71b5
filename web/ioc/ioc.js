// The IOC wall display (`/ioc`): the live map (latest readings; for operators the events
// layer's tiles), the latest readings with their age, the open events with
// acknowledge/close, the alert rule editor (operators), a clock and the feed's state.
// Everything live comes from `/feeds/stream`; operators sign in as in the planners' map (the
// same session).

import { createSignIn } from '/map/signin.mjs';
import { createHttp } from '/map/http.mjs';
import { STRINGS, initialLanguage, applyLanguage } from './texts.mjs';
import { followFeed } from './feed.mjs';
import { createLiveMap } from './markers.mjs';
import { createReadingsTable } from './readings.mjs';
import { createAlertList } from './alerts.mjs';
import { startClock } from './clock.mjs';
import { createRuleEditor } from './rules.mjs';

/** JSON of a 2xx answer (null for 204), or an Error with the problem's `detail` and `status`. */
async function requestJson(path, init, token) {
  const headers = { ...(init?.headers ?? {}) };
  if (token) headers.authorization = `Bearer ${token}`;
  const response = await fetch(path, { ...init, headers });
  if (!response.ok) {
    const problem = await response.json().catch(() => ({}));
    const error = new Error(problem.detail ?? `HTTP ${response.status}`);
    error.detail = problem.detail;
    error.status = response.status;
    throw error;
  }
  return response.status === 204 ? null : response.json();
}

async function main() {
  let lang = initialLanguage();
  let t = applyLanguage(lang);
  const signIn = await createSignIn().catch(() => null);
  const token = () => signIn?.token() ?? null;
  const user = signIn?.user;
  const operator = Boolean(user?.roles?.some((r) => r === 'ioc_operator' || r === 'admin'));
  const name = document.getElementById('account-name');
  const signInButton = document.getElementById('sign-in');
  if (user) {
    name.textContent = user.name ?? user.username;
    name.hidden = false;
  } else if (signIn?.enabled) {
    signInButton.hidden = false;
    signInButton.addEventListener('click', () => signIn.signIn());
  }
  document.getElementById('alerts-hint').hidden = operator;

  const http = createHttp(signIn);
  const live = createLiveMap(document.getElementById('map'), {
    transformRequest: http.transformRequest,
    events: operator,
  });
  window.bandoIoc = live;
  const table = createReadingsTable(document.querySelector('#readings tbody'));
  const act = (id, action) => requestJson(`/feeds/events/${id}/${action}`, { method: 'POST' }, token());
  const alerts = createAlertList(document.getElementById('alerts'), { act });
  const rulesPanel = document.getElementById('rules-panel');
  const rules = createRuleEditor(rulesPanel, {
    http: (path, init) => requestJson(path, init, token()),
    properties: () => [...new Set([...document.querySelectorAll('#readings td.property')].map((td) => td.textContent))],
    stationOf: (id) => document.querySelector(`#readings tr[data-datastream="${id}"] td.station`)?.textContent,
  });
  const setLanguage = () => {
    t = applyLanguage(lang);
    table.setLanguage(t);
    alerts.setLanguage(t);
    rules.setLanguage(t);
    state.textContent = t[state.dataset.state] ?? '';
  };
  const state = document.getElementById('feed-state');
  document.getElementById('lang-toggle').addEventListener('click', () => {
    lang = lang === 'vi' ? 'en' : 'vi';
    setLanguage();
  });
  setLanguage();
  if (operator) {
    rulesPanel.hidden = false;
    rules.load().catch((e) => {
      const error = document.getElementById('rule-error');
      error.textContent = `${t.ruleRefused}: ${e.message}`;
      error.hidden = false;
    });
  }
  startClock(document.getElementById('clock'), () => table.tick());
  await live.loaded;

  let snapshotSeen = false;
  followFeed({
    token,
    onState(s) {
      state.dataset.state = s;
      state.textContent = t[s] ?? s;
    },
    onMessage({ event, data }) {
      if (event === 'snapshot') {
        live.setReadings(data.readings.features);
        table.set(data.readings.features);
        alerts.set(data.events);
        live.setAreas(data.events);
        live.eventsChanged();
        if (!snapshotSeen) {
          snapshotSeen = true;
          document.body.dataset.ready = 'true';
        }
      } else if (event === 'reading') {
        live.putReading(data);
        table.put(data);
      } else if (event === 'event') {
        alerts.put(data);
        live.setAreas([...alerts.events.values()]);
        live.eventsChanged();
      }
    },
  });
}

main().catch((e) => {
  document.body.dataset.ready = 'false';
  document.getElementById('feed-state').textContent = String(e?.message ?? e);
});
