// The IOC wall display (`/ioc`): the live map, the latest readings with their age, the open
// events with acknowledge/close, a clock and the feed's state. Everything live comes from
// `/feeds/stream`; operators sign in as in the planners' map (the same session).

import { createSignIn } from '/map/signin.mjs';
import { STRINGS, initialLanguage, applyLanguage } from './texts.mjs';
import { followFeed } from './feed.mjs';
import { createLiveMap } from './markers.mjs';
import { createReadingsTable } from './readings.mjs';
import { createAlertList } from './alerts.mjs';
import { startClock } from './clock.mjs';

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

  const live = createLiveMap(document.getElementById('map'));
  window.bandoIoc = live;
  const table = createReadingsTable(document.querySelector('#readings tbody'));
  const act = async (id, action) => {
    const response = await fetch(`/feeds/events/${id}/${action}`, {
      method: 'POST', headers: { authorization: `Bearer ${token()}` },
    });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    return response.json();
  };
  const alerts = createAlertList(document.getElementById('alerts'), { act });
  const setLanguage = () => {
    t = applyLanguage(lang);
    table.setLanguage(t);
    alerts.setLanguage(t);
    state.textContent = t[state.dataset.state] ?? '';
  };
  const state = document.getElementById('feed-state');
  document.getElementById('lang-toggle').addEventListener('click', () => {
    lang = lang === 'vi' ? 'en' : 'vi';
    setLanguage();
  });
  setLanguage();
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
        live.setEvents(data.events);
        if (!snapshotSeen) {
          snapshotSeen = true;
          document.body.dataset.ready = 'true';
        }
      } else if (event === 'reading') {
        live.putReading(data);
        table.put(data);
      } else if (event === 'event') {
        alerts.put(data);
        live.setEvents([...alerts.events.values()]);
      }
    },
  });
}

main().catch((e) => {
  document.body.dataset.ready = 'false';
  document.getElementById('feed-state').textContent = String(e?.message ?? e);
});
