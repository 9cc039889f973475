// The console's only rendering helper: build DOM nodes from plain values.
// Text always goes in as text nodes (never innerHTML), so nothing a caller said on a call can become
// markup, and the strict CSP (no inline code) holds.

const PROPERTIES = new Set(['value', 'checked', 'disabled', 'hidden', 'selected', 'open']);

/**
 * h('a', {href: '#/', class: 'link', onclick: fn, dataset: {callSid}}, 'text', child, [more])
 * Attributes that are null, undefined or false are left out; true sets an empty attribute.
 */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'dataset') {
      for (const [name, v] of Object.entries(value)) if (v !== null && v !== undefined) el.dataset[name] = String(v);
    } else if (key.startsWith('on') && typeof value === 'function') el.addEventListener(key.slice(2), value);
    else if (PROPERTIES.has(key)) el[key] = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

/** Append children: strings and numbers as text, arrays flattened, null/undefined/false skipped. */
export function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

/** Replace everything inside `parent` with `children`. */
export function replace(parent, ...children) {
  parent.replaceChildren();
  return append(parent, children);
}

/** Text only a screen reader reads. */
export function srOnly(text) {
  return h('span', {class: 'sr-only'}, text);
}
