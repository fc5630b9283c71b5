// The alert rule editor of the IOC display (operators): the rules of `/feeds/rules` in a
// table, a form to create one or edit one (`POST /feeds/rules`, `PUT /feeds/rules/{id}`), and
// delete with a second click to confirm (`DELETE /feeds/rules/{id}`). The server checks every
// rule; what it refuses (422, 409) is shown with its reason, the form kept as typed.

const FIELDS = ['observed_property', 'datastream', 'kind', 'severity', 'direction', 'raise_at',
  'clear_at', 'title', 'title_en', 'enabled'];

/**
 * `root` holds the editor (see index.html: `#rules-panel`); `http(path, init)` resolves to the
 * JSON of a 2xx answer (null for 204) or throws an Error carrying the problem's detail;
 * `properties()` lists the observed properties known to the display, `stationOf(id)` names
 * a datastream's station (a rule of one datastream replaces its property's rule there).
 */
export function createRuleEditor(root, { http, properties, stationOf }) {
  const table = root.querySelector('#rules tbody');
  const form = root.querySelector('#rule-form');
  const error = root.querySelector('#rule-error');
  const propertyList = root.querySelector('#rule-properties');
  let texts = null;
  let rules = [];
  let editing = null;

  const field = (name) => form.elements.namedItem(name);
  const title = (r) => (document.documentElement.lang === 'en' && r.title_en ? r.title_en : r.title);
  const levels = (r) => `${r.direction === 'below' ? '≤' : '≥'} ${r.raise_at} → ${r.clear_at}`;

  const render = () => {
    const rows = rules.map((r) => {
      const tr = document.createElement('tr');
      tr.dataset.rule = r.id;
      tr.dataset.enabled = String(r.enabled);
      const where = r.datastream_id ? ` — ${stationOf(r.datastream_id) ?? `#${r.datastream_id}`}` : '';
      const cells = [`${r.observed_property}${where}`, texts.ruleKind[r.kind] ?? r.kind,
        texts.severity[r.severity] ?? r.severity, levels(r), title(r)];
      for (const [i, text] of cells.entries()) {
        const td = document.createElement('td');
        td.className = ['property', 'kind', 'severity', 'levels', 'title'][i];
        td.textContent = text;
        tr.append(td);
      }
      const actions = document.createElement('td');
      actions.className = 'actions';
      const edit = document.createElement('button');
      edit.type = 'button';
      edit.dataset.action = 'edit';
      edit.textContent = texts.edit;
      edit.addEventListener('click', () => open(r));
      const remove = document.createElement('button');
      remove.type = 'button';
      remove.dataset.action = 'delete';
      remove.textContent = texts.delete;
      // A wall display is touched in passing: deleting takes a second click.
      remove.addEventListener('click', async () => {
        if (remove.dataset.confirm !== 'true') {
          remove.dataset.confirm = 'true';
          remove.textContent = texts.confirmDelete;
          return;
        }
        remove.disabled = true;
        try {
          await http(`/feeds/rules/${r.id}`, { method: 'DELETE' });
          if (editing?.id === r.id) close();
          await load();
        } catch (e) {
          remove.disabled = false;
          show(e);
        }
      });
      actions.append(edit, remove);
      tr.append(actions);
      if (!r.enabled) tr.title = texts.ruleDisabled;
      return tr;
    });
    table.replaceChildren(...rows);
  };

  const show = (e) => {
    error.textContent = e ? `${texts.ruleRefused}: ${e.detail ?? e.message}` : '';
    error.hidden = !e;
  };

  const fillProperties = () => {
    const names = new Set([...properties(), ...rules.map((r) => r.observed_property)]);
    propertyList.replaceChildren(...[...names].sort().map((n) => {
      const o = document.createElement('option');
      o.value = n;
      return o;
    }));
  };

  const open = (rule) => {
    editing = rule;
    show(null);
    fillProperties();
    const r = rule ?? { observed_property: '', kind: 'threshold', severity: 'warning', direction: 'above',
      raise_at: '', clear_at: '', title: '', title_en: '', enabled: true };
    for (const name of FIELDS) {
      const el = field(name);
      const value = name === 'datastream' ? r.datastream_id : r[name];
      if (el.type === 'checkbox') el.checked = Boolean(value);
      else el.value = value ?? '';
    }
    form.dataset.mode = rule ? 'edit' : 'create';
    form.hidden = false;
    field('observed_property').focus();
  };

  const close = () => {
    editing = null;
    form.hidden = true;
    show(null);
  };

  const load = async () => {
    const answer = await http('/feeds/rules');
    rules = answer.rules;
    render();
  };

  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const body = {};
    for (const name of FIELDS) {
      const el = field(name);
      if (el.type === 'checkbox') body[name] = el.checked;
      else if (el.type === 'number') body[name] = el.value === '' ? null : Number(el.value);
      else body[name] = el.value.normalize('NFC').trim();
    }
    const save = form.querySelector('button[type="submit"]');
    save.disabled = true;
    try {
      await http(editing ? `/feeds/rules/${editing.id}` : '/feeds/rules', {
        method: editing ? 'PUT' : 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      close();
      await load();
    } catch (e) {
      show(e);
    } finally {
      save.disabled = false;
    }
  });
  root.querySelector('#rule-cancel').addEventListener('click', close);
  root.querySelector('#rule-new').addEventListener('click', () => open(null));

  return {
    load,
    setLanguage(t) {
      texts = t;
      if (rules.length) render();
    },
  };
}
