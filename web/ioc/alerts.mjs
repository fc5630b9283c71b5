// The list of open events and alerts, newest first, with acknowledge/close for operators;
// a new alarm or critical event flashes and beeps (a wall display has no one staring at it).

export function createAlertList(list, { act }) {
  const events = new Map();
  let texts = null;
  const beep = () => {
    try {
      const ctx = new AudioContext();
      const osc = ctx.createOscillator();
      osc.frequency.value = 880;
      osc.connect(ctx.destination);
      osc.start();
      osc.stop(ctx.currentTime + 0.4);
    } catch {
      // No sound allowed before a user gesture: the flash still shows.
    }
  };
  const item = (e, fresh) => {
    const li = document.createElement('li');
    li.dataset.id = e.id;
    li.dataset.severity = e.severity;
    li.dataset.status = e.status;
    if (fresh && (e.severity === 'alarm' || e.severity === 'critical')) li.classList.add('flash');
    const title = document.createElement('div');
    title.className = 'title';
    title.textContent = e.title;
    const meta = document.createElement('div');
    meta.className = 'meta';
    const when = new Date(e.raised_at).toLocaleTimeString(document.documentElement.lang);
    const parts = [texts.severity[e.severity] ?? e.severity, texts.eventStatus[e.status] ?? e.status, when];
    if (e.value !== null && e.value !== undefined) parts.push(String(e.value));
    if (e.cleared_at) parts.push(texts.cleared);
    meta.textContent = parts.join(' · ');
    li.append(title, meta);
    const buttons = document.createElement('div');
    if (e.status === 'open') buttons.append(button('acknowledge', e));
    buttons.append(button('close', e));
    li.append(buttons);
    return li;
  };
  const button = (action, e) => {
    const b = document.createElement('button');
    b.type = 'button';
    b.dataset.action = action;
    b.textContent = texts[action];
    b.addEventListener('click', async () => {
      b.disabled = true;
      try {
        put(await act(e.id, action), false);
      } catch {
        b.disabled = false;
        b.title = texts.actionFailed;
      }
    });
    return b;
  };
  const render = (freshId) => {
    const open = [...events.values()].filter((e) => e.status !== 'closed')
      .sort((a, b) => Date.parse(b.raised_at) - Date.parse(a.raised_at) || b.id - a.id);
    list.replaceChildren(...open.map((e) => item(e, e.id === freshId)));
    if (!open.length) {
      const li = document.createElement('li');
      li.className = 'hint';
      li.textContent = texts.noAlerts;
      list.append(li);
    }
  };
  const put = (e, fresh) => {
    const known = events.has(e.id);
    events.set(e.id, e);
    render(fresh && !known ? e.id : null);
    if (fresh && !known && (e.severity === 'alarm' || e.severity === 'critical')) beep();
  };
  return {
    events,
    setLanguage(t) {
      texts = t;
      render(null);
    },
    set(list_) {
      events.clear();
      for (const e of list_) events.set(e.id, e);
      render(null);
    },
    put: (e) => put(e, true),
  };
}
