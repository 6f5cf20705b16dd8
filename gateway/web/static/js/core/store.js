// Local persistence: localStorage, namespaced, tolerant of storage being disabled or full (private
// modes, quotas). Values are JSON.

export class Store {
  constructor(prefix) {
    this.prefix = prefix;
  }

  get(key, fallback = null) {
    try {
      const v = localStorage.getItem(this.prefix + key);
      return v == null ? fallback : JSON.parse(v);
    } catch {
      return fallback;
    }
  }

  set(key, value) {
    try {
      localStorage.setItem(this.prefix + key, JSON.stringify(value));
      return true;
    } catch {
      return false;
    }
  }

  del(key) {
    try {
      localStorage.removeItem(this.prefix + key);
    } catch { /* storage disabled */ }
  }

  /** watch calls fn(key, value) when another tab changes a key of this store. */
  watch(fn) {
    addEventListener('storage', (ev) => {
      if (!ev.key || !ev.key.startsWith(this.prefix)) return;
      let v = null;
      try {
        v = ev.newValue == null ? null : JSON.parse(ev.newValue);
      } catch { /* ignore */ }
      fn(ev.key.slice(this.prefix.length), v);
    });
  }
}
