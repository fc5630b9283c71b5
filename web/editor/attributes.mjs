// The parcel's attributes as a form: one field per editable property (the parcel's non-identity
// columns), titled as the server titles them; read-only for whoever may not edit. Reports each
// change; shows the values it is given (after undo, redo, reload).

/** The kind of input a value calls for. */
function kindOf(name, value, types) {
  const type = types[name];
  if (type === 'boolean' || typeof value === 'boolean') return 'boolean';
  if (type === 'number' || type === 'integer' || typeof value === 'number') return 'number';
  return 'text';
}

/**
 * The form in `element` (a <form>). `titleOf(name)` gives a property's title in the language in
 * force; `types` maps names to JSON Schema types (from the queryables) where known.
 */
export function createAttributes(element, { language, titleOf, types = {}, onChange }) {
  let editable = false;
  let values = {};

  function input(name, value) {
    const kind = kindOf(name, value, types);
    let field;
    if (kind === 'boolean') {
      field = document.createElement('select');
      for (const [v, key] of [['', null], ['true', 'yes'], ['false', 'no']]) {
        const option = document.createElement('option');
        option.value = v;
        option.textContent = key ? language.t(key) : '—';
        field.append(option);
      }
      field.value = value === null || value === undefined ? '' : String(value);
    } else {
      field = document.createElement('input');
      field.type = kind === 'number' ? 'number' : 'text';
      if (kind === 'number') field.step = 'any';
      field.value = value === null || value === undefined ? '' : String(value);
    }
    field.name = name;
    field.disabled = !editable;
    field.addEventListener('change', () => {
      let next;
      if (kind === 'boolean') next = field.value === '' ? null : field.value === 'true';
      else if (kind === 'number') next = field.value === '' ? null : Number(field.value);
      else next = field.value === '' ? null : field.value.normalize('NFC');
      onChange(name, next);
    });
    return field;
  }

  function render() {
    element.replaceChildren();
    for (const [name, value] of Object.entries(values)) {
      const label = document.createElement('label');
      label.dataset.key = name;
      const title = document.createElement('span');
      title.textContent = titleOf(name);
      label.append(title, input(name, value));
      element.append(label);
    }
  }

  language.onChange(render);
  return {
    /** Shows `properties`; editable or not. */
    show(properties, { canEdit = editable } = {}) {
      values = { ...properties };
      editable = canEdit;
      render();
    },
    clear() { values = {}; element.replaceChildren(); },
  };
}
