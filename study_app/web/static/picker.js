// Finding one class among a thousand, as the desktop's label picker does: a search box whose
// ranked results come from the server (GET /api/search runs the desktop's own ranking,
// session/label_search.py), a hierarchy browser built from /api/config's labels, the
// highlighted label's names, place, definition and example images. Groups are results too:
// choosing one opens it in the hierarchy; only classes go into the answer.

import { api, RetryLater } from "./common.js";

/** Wait after a keystroke before asking the server (a fast typist's next key cancels it). */
const SEARCH_DELAY_MS = 60;
const SEARCH_LIMIT = 50;
/** Examples load once the highlight has rested this long (arrowing through a list loads none). */
const EXAMPLES_DELAY_MS = 60;
/** Pixels per hierarchy level (WordNet puts ILSVRC classes up to 18 levels deep). */
const TREE_INDENT = 12;
/** Kinds named in a description; the rest are counted. */
const KINDS_SHOWN = 8;
/** Rows PgUp/PgDn move. */
const PAGE_ROWS = 10;

/** A search, asked again (a few times) while the server cannot answer now (its rate limit, a
 * restart): a typed query must not come back empty only because the server was busy. */
async function searchApi(query, tries = 4) {
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await api("GET", query);
    } catch (error) {
      if (!(error instanceof RetryLater) || attempt >= tries) throw error;
      await new Promise((resolve) => setTimeout(resolve, error.retryAfterS ? error.retryAfterS * 1000 : 250 * attempt));
    }
  }
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** A key that writes text: one printable character, with Shift at most. */
export function isTyping(event) {
  return event.key.length === 1 && !event.ctrlKey && !event.altKey && !event.metaKey;
}

/** The study's label forest from /api/config: classes (the answers) and groups (inner nodes). */
export class Labels {
  constructor(config) {
    this.byId = new Map();
    for (const c of config.classes) this.byId.set(c.id, { ...c, isClass: true });
    for (const g of config.groups) this.byId.set(g.id, { synonyms: [], kinds: [], ...g, isClass: false });
    this.parent = config.parent || {};
    this.notes = config.notes || {};
    this.roots = config.roots && config.roots.length ? config.roots : this.sorted([...this.byId.keys()].filter((id) => !(id in this.parent)));
    const children = new Map();
    for (const [child, parent] of Object.entries(this.parent)) {
      if (!children.has(parent)) children.set(parent, []);
      children.get(parent).push(child);
    }
    this.children = new Map([...children].map(([parent, kids]) => [parent, this.sorted(kids)]));
    this.countBelow = new Map();
    for (const c of config.classes) for (const node of this.path(c.id)) this.countBelow.set(node, (this.countBelow.get(node) || 0) + 1);
  }

  /** Sorted by display name, case-insensitively (as the desktop's tree). */
  sorted(ids) {
    const key = (id) => this.byId.get(id).name.toLowerCase();
    return ids.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  }

  get(id) {
    return this.byId.get(id);
  }

  isClass(id) {
    const label = this.byId.get(id);
    return Boolean(label && label.isClass);
  }

  name(id) {
    const label = this.byId.get(id);
    return label ? label.name : id;
  }

  /** The name with what tells it from a namesake ("table · in furniture"). */
  title(id) {
    const note = this.notes[id];
    return note ? `${this.name(id)} · ${note}` : this.name(id);
  }

  /** [id, its parent, ..., its root]. */
  path(id) {
    const path = [id];
    const seen = new Set(path);
    while (this.parent[path[path.length - 1]] !== undefined) {
      const up = this.parent[path[path.length - 1]];
      if (seen.has(up)) break;
      seen.add(up);
      path.push(up);
    }
    return path;
  }

  depth(id) {
    return this.path(id).length - 1;
  }

  classCount(id) {
    const count = this.countBelow.get(id) || 0;
    return count === 1 ? "1 class" : `${count} classes`;
  }

  /** Name, other names, kinds, place in the hierarchy and definition of one label. */
  describe(id) {
    const label = this.byId.get(id);
    const box = el("div");
    box.append(el("b", "", this.title(id)));
    const others = (label.synonyms || []).filter((name) => name !== label.name);
    if (others.length) box.append(el("div", "muted", `also: ${others.join(", ")}`));
    const kinds = label.kinds || [];
    if (kinds.length) {
      const shown = kinds.slice(0, KINDS_SHOWN).join(", ");
      box.append(el("div", "muted", `kinds: ${kinds.length > KINDS_SHOWN ? `${shown}, … (${kinds.length} in all)` : shown}`));
    }
    const path = this.path(id).slice(1).reverse().map((node) => this.name(node));
    if (path.length) box.append(el("div", "muted", `in: ${path.slice(-4).join(" › ")}`));
    if (label.definition) box.append(el("div", "", label.definition));
    if (!label.isClass) {
      box.append(el("i", "", `a group of ${this.classCount(id)}, not a class itself: Enter opens it in the hierarchy`));
    }
    return box;
  }
}

/** Example images of one class at a time, and one of them large over the page. */
class Examples {
  constructor(labels, pane, viewer, log) {
    this.labels = labels;
    this.pane = pane;
    this.viewer = viewer;
    this.log = log;
    this.cache = new Map();
    this.current = null;
    this.timer = null;
    this.large = null; // {id, urls, index} while the large view is open
    this.returnFocus = null;
    this.enabled = true;
    viewer.addEventListener("click", () => this.close());
  }

  showSoon(id, pane = this.pane) {
    clearTimeout(this.timer);
    if (this.large && this.large.id !== id) this.close();
    this.current = this.labels.isClass(id) ? id : null;
    pane.replaceChildren();
    if (this.current) this.timer = setTimeout(() => this.show(this.current, pane), EXAMPLES_DELAY_MS);
  }

  async urls(id) {
    if (!this.cache.has(id)) {
      const request = api("GET", `/api/examples/${encodeURIComponent(id)}`).then((r) => r.images || []);
      this.cache.set(id, request);
      request.catch(() => this.cache.delete(id)); // a failed look-up is asked again next time
    }
    return this.cache.get(id);
  }

  async show(id, pane = this.pane) {
    let urls;
    try {
      urls = await this.urls(id);
    } catch (error) {
      return; // no examples now: the class can still be chosen
    }
    if (id !== this.current && pane === this.pane) return;
    pane.replaceChildren(
      ...urls.map((url, index) => {
        const img = el("img", "thumb");
        img.src = url;
        img.alt = `example ${index + 1} of ${this.labels.name(id)}`;
        img.addEventListener("click", () => this.open(id, urls, index));
        return img;
      })
    );
  }

  async toggleLarge() {
    if (this.large) {
      this.close();
      return;
    }
    if (!this.current || !this.enabled) return;
    const urls = await this.urls(this.current).catch(() => []);
    if (urls.length) this.open(this.current, urls, 0);
  }

  open(id, urls, index) {
    if (!this.enabled) return;
    if (!this.large) this.returnFocus = document.activeElement;
    this.large = { id, urls, index: 0 };
    this.viewer.hidden = false;
    this.viewer.focus();
    this.move(index);
  }

  move(index) {
    const large = this.large;
    large.index = ((index % large.urls.length) + large.urls.length) % large.urls.length;
    document.getElementById("viewer-caption").replaceChildren(
      el("b", "", this.labels.name(large.id)),
      `: example ${large.index + 1} of ${large.urls.length} `,
      el("span", "muted", "(Left/Right: the others; Esc closes)")
    );
    document.getElementById("viewer-image").src = large.urls[large.index];
    this.log("view_example", { label_id: large.id, index: large.index });
  }

  /** Keys while the large view is open: true if taken. */
  key(event) {
    if (!this.large) return false;
    if (event.key === "Escape") this.close();
    else if (event.key === "ArrowLeft" || event.key === "ArrowRight") this.move(this.large.index + (event.key === "ArrowRight" ? 1 : -1));
    else return false;
    return true;
  }

  close() {
    if (!this.large) return;
    this.large = null;
    this.viewer.hidden = true;
    if (this.returnFocus) this.returnFocus.focus();
  }
}

/** The search box, its results, the hierarchy, the details and examples of the highlighted label. */
export class Picker {
  /** `onChoose(id)`: a class was chosen; `log(kind, detail)`: a look-up for the trial's events. */
  constructor(labels, { onChoose, log }) {
    this.labels = labels;
    this.onChoose = onChoose;
    this.log = log;
    this.search = document.getElementById("search");
    this.resultsList = document.getElementById("results");
    this.tree = document.getElementById("tree");
    this.details = document.getElementById("details");
    this.tabResults = document.getElementById("tab-results");
    this.tabTree = document.getElementById("tab-tree");
    this.examples = new Examples(labels, document.getElementById("examples"), document.getElementById("viewer"), log);
    this.hits = [];
    this.hitIndex = -1;
    this.current = null;
    this.expanded = new Set();
    this.rows = [];
    this.treeIndex = -1;
    this.browsed = false;
    this.searchTimer = null;
    this.searchSeq = 0;
    this.searching = null; // the search in flight, awaited by Enter
    this.showPlaceholder();

    this.search.addEventListener("input", () => this.scheduleSearch());
    this.search.addEventListener("keydown", (event) => this.searchKey(event));
    this.tree.addEventListener("keydown", (event) => this.treeKey(event));
    this.tabResults.addEventListener("click", () => this.focusSearch());
    this.tabTree.addEventListener("click", () => this.focusTree());
    this.resultsList.addEventListener("click", (event) => {
      const row = event.target.closest("li[data-index]");
      if (row) this.highlightHit(Number(row.dataset.index));
    });
    this.resultsList.addEventListener("dblclick", (event) => {
      const row = event.target.closest("li[data-index]");
      if (!row) return;
      this.highlightHit(Number(row.dataset.index));
      this.takeChoice()();
    });
    this.tree.addEventListener("click", (event) => {
      const row = event.target.closest("[data-row]");
      if (!row) return;
      const index = Number(row.dataset.row);
      if (event.target.classList.contains("toggle")) this.toggle(this.rows[index].id);
      else this.highlightRow(index);
    });
    this.tree.addEventListener("dblclick", (event) => {
      const row = event.target.closest("[data-row]");
      if (row) this.enterRow(Number(row.dataset.row));
    });
  }

  showPlaceholder() {
    this.details.replaceChildren(el("i", "", "Type to search, or browse the hierarchy. The highlighted class is described here."));
  }

  /** Back to an empty search for a new trial. */
  reset() {
    clearTimeout(this.searchTimer);
    this.searchSeq += 1;
    this.searching = null;
    this.search.value = "";
    this.hits = [];
    this.hitIndex = -1;
    this.renderHits();
    if (this.browsed) {
      this.expanded.clear();
      this.browsed = false;
      this.rows = [];
      this.treeIndex = -1;
    }
    this.showTab("results");
    this.setCurrent(null);
    this.examples.close();
    this.search.focus();
  }

  setEnabled(enabled) {
    this.search.disabled = !enabled;
    this.examples.enabled = enabled;
    document.getElementById("picker").classList.toggle("disabled", !enabled);
  }

  showTab(which) {
    const tree = which === "tree";
    this.tabResults.classList.toggle("active", !tree);
    this.tabTree.classList.toggle("active", tree);
    this.resultsList.hidden = tree;
    this.tree.hidden = !tree;
  }

  get treeShown() {
    return !this.tree.hidden;
  }

  focusSearch() {
    this.showTab("results");
    this.search.focus();
    this.search.select();
  }

  /** Open the hierarchy at the highlighted label (or at the top). */
  focusTree() {
    this.showTab("tree");
    this.browsed = true;
    if (this.current !== null) this.reveal(this.current);
    else if (this.treeIndex < 0) this.renderTree(0);
    this.tree.focus();
  }

  /** A group found by search: shown where it sits in the hierarchy, opened, the keyboard in the tree. */
  openGroup(id) {
    this.setCurrent(id);
    this.expanded.add(id);
    this.focusTree();
    this.log("browse", { node: id });
  }

  reveal(id) {
    for (const ancestor of this.labels.path(id).slice(1)) this.expanded.add(ancestor);
    this.buildRows();
    this.renderTree(this.rows.findIndex((row) => row.id === id));
  }

  // -- search ------------------------------------------------------------------------
  scheduleSearch() {
    clearTimeout(this.searchTimer);
    this.searchTimer = setTimeout(() => this.runSearch(), SEARCH_DELAY_MS);
  }

  /** Run the search for the box's text now; resolves once its hits are shown. */
  runSearch() {
    clearTimeout(this.searchTimer);
    this.searchTimer = null;
    const text = this.search.value;
    const seq = ++this.searchSeq;
    if (!text.trim()) {
      this.hits = [];
      this.hitIndex = -1;
      this.renderHits();
      if (this.current === null) this.showPlaceholder();
      this.searching = null;
      return Promise.resolve();
    }
    const query = `/api/search?q=${encodeURIComponent(text)}&limit=${SEARCH_LIMIT}`;
    this.searching = searchApi(query).then(
      (result) => {
        if (seq !== this.searchSeq) return;
        this.searching = null;
        this.hits = result.hits || [];
        this.showTab("results");
        this.renderHits();
        if (this.hits.length) {
          this.highlightHit(0);
        } else {
          this.hitIndex = -1;
          this.setCurrent(null);
          const shown = text.length <= 40 ? text : `${text.slice(0, 40)}…`;
          this.details.replaceChildren(
            el("i", "", `No class matches “${shown}”. Try another word or a synonym, or browse the hierarchy (F3).`)
          );
        }
        this.log("search", {
          query: text,
          results: this.hits.length,
          groups: this.hits.filter((hit) => hit.is_group).length,
          top: this.hits.length ? this.hits[0].id : null,
        });
      },
      (error) => {
        if (seq !== this.searchSeq) return;
        this.searching = null;
        this.details.replaceChildren(el("i", "", `The search is not available just now (${error.message}).`));
      }
    );
    return this.searching;
  }

  renderHits() {
    this.resultsList.replaceChildren(
      ...this.hits.map((hit, index) => {
        const row = el("li", hit.is_group ? "hit group" : "hit");
        row.dataset.index = index;
        row.dataset.id = hit.id;
        row.setAttribute("role", "option");
        row.append(el("span", "name", this.labels.title(hit.id)));
        if (hit.is_group) row.append(el("span", "muted", ` (group of ${this.labels.classCount(hit.id)})`));
        if (hit.is_kind) row.append(el("span", "muted", `  (${hit.matched}: a kind of it)`));
        else if (hit.matched && hit.matched !== hit.name) row.append(el("span", "muted", `  (${hit.matched})`));
        return row;
      })
    );
  }

  highlightHit(index) {
    if (!this.hits.length) return;
    this.hitIndex = Math.max(0, Math.min(this.hits.length - 1, index));
    for (const row of this.resultsList.children) row.classList.toggle("current", Number(row.dataset.index) === this.hitIndex);
    const row = this.resultsList.children[this.hitIndex];
    if (row) row.scrollIntoView({ block: "nearest" });
    this.setCurrent(this.hits[this.hitIndex].id);
  }

  searchKey(event) {
    const plain = !event.ctrlKey && !event.altKey && !event.metaKey && !event.shiftKey;
    if (!plain) return;
    const step = { ArrowUp: -1, ArrowDown: 1, PageUp: -PAGE_ROWS, PageDown: PAGE_ROWS }[event.key];
    if (step !== undefined) {
      event.preventDefault();
      if (this.treeShown) this.highlightRow(this.treeIndex + step);
      else this.highlightHit(this.hitIndex + step);
    } else if (event.key === "Escape" && this.search.value) {
      event.preventDefault();
      event.stopPropagation(); // a fresh query, not a cancelled revision
      this.search.value = "";
      this.runSearch();
    }
  }

  // -- the hierarchy -----------------------------------------------------------------
  buildRows() {
    const rows = [];
    const walk = (ids, depth) => {
      for (const id of ids) {
        rows.push({ id, depth });
        if (this.expanded.has(id) && this.labels.children.has(id)) walk(this.labels.children.get(id), depth + 1);
      }
    };
    walk(this.labels.roots, 0);
    this.rows = rows;
  }

  renderTree(index) {
    if (!this.rows.length) this.buildRows();
    this.tree.replaceChildren(
      ...this.rows.map((row, i) => {
        const group = this.labels.children.has(row.id);
        const line = el("div", group ? "node group" : "node");
        line.dataset.row = i;
        line.dataset.id = row.id;
        line.style.paddingLeft = `${row.depth * TREE_INDENT + 4}px`;
        line.append(el("span", "toggle", group ? (this.expanded.has(row.id) ? "▾ " : "▸ ") : "  "));
        line.append(el("span", "name", this.labels.title(row.id)));
        if (group) line.append(el("span", "muted", ` (${this.labels.classCount(row.id)})`));
        line.title = this.labels.title(row.id);
        return line;
      })
    );
    this.highlightRow(index);
  }

  highlightRow(index) {
    if (!this.rows.length) return;
    this.treeIndex = Math.max(0, Math.min(this.rows.length - 1, index));
    for (const line of this.tree.querySelectorAll(".current")) line.classList.remove("current");
    const line = this.tree.children[this.treeIndex];
    if (line) {
      line.classList.add("current");
      line.scrollIntoView({ block: "nearest" });
    }
    this.setCurrent(this.rows[this.treeIndex].id);
  }

  toggle(id) {
    if (this.expanded.has(id)) this.expanded.delete(id);
    else {
      this.expanded.add(id);
      this.log("browse", { node: id });
    }
    this.browsed = true;
    this.buildRows();
    this.renderTree(this.rows.findIndex((row) => row.id === id));
  }

  /** Enter on a row: a class is chosen; a group opens, or if open, the highlight steps into it. */
  enterRow(index) {
    const row = this.rows[index];
    if (!row) return;
    if (this.labels.isClass(row.id)) {
      this.clearQuery();
      this.choose(row.id);
    }
    else if (!this.expanded.has(row.id)) this.toggle(row.id);
    else if (this.labels.children.has(row.id)) this.highlightRow(index + 1);
  }

  treeKey(event) {
    if (event.ctrlKey || event.altKey || event.metaKey) return;
    const row = this.rows[this.treeIndex];
    const step = { ArrowUp: -1, ArrowDown: 1, PageUp: -PAGE_ROWS, PageDown: PAGE_ROWS }[event.key];
    if (step !== undefined) {
      this.highlightRow(this.treeIndex + step);
    } else if (event.key === "Home" || event.key === "End") {
      this.highlightRow(event.key === "Home" ? 0 : this.rows.length - 1);
    } else if (event.key === "ArrowRight" && row) {
      if (this.labels.children.has(row.id) && !this.expanded.has(row.id)) this.toggle(row.id);
      else if (this.expanded.has(row.id)) this.highlightRow(this.treeIndex + 1);
    } else if (event.key === "ArrowLeft" && row) {
      if (this.expanded.has(row.id)) this.toggle(row.id);
      else if (this.labels.parent[row.id] !== undefined) this.highlightRow(this.rows.findIndex((r) => r.id === this.labels.parent[row.id]));
    } else if (event.key === "Enter") {
      this.enterRow(this.treeIndex);
    } else {
      return;
    }
    event.preventDefault();
    event.stopPropagation(); // the tree's Enter is its own, not the window's add_label
  }

  // -- the highlighted label ---------------------------------------------------------
  setCurrent(id) {
    if (id === this.current) return;
    this.current = id;
    if (id === null) this.showPlaceholder();
    else this.details.replaceChildren(this.labels.describe(id));
    this.examples.showSoon(id);
    if (id !== null) this.log("view_class", { label_id: id });
  }

  /** Enter, at once: what it chooses is fixed now (the highlighted label, or the top hit of
   * the query typed so far where its results are still on their way), and the search box
   * empties so that the next key starts a new query, as on the desktop. Returns the rest of
   * the choice (awaiting those results), to be run after the commands before it: a fast
   * "tench, Enter, pizza, Enter" gives tench and then pizza. A group opens in the hierarchy. */
  takeChoice() {
    const text = this.search.value;
    const pending = !this.treeShown && (this.searchTimer !== null || this.searching !== null);
    if (!pending) {
      const id = this.current;
      if (id !== null && this.labels.isClass(id)) this.clearQuery();
      return () => this.choose(id);
    }
    clearTimeout(this.searchTimer);
    this.searchTimer = null;
    this.searchSeq += 1; // the search in flight is this choice's: its answer is taken below
    this.searching = null;
    this.search.value = "";
    const query = `/api/search?q=${encodeURIComponent(text)}&limit=1`;
    const request = searchApi(query).then((result) => result.hits || [], () => []);
    return async () => {
      const hits = await request;
      const top = hits.length ? hits[0].id : null;
      this.log("search", { query: text, results: hits.length, groups: hits.filter((hit) => hit.is_group).length, top });
      if (top !== null) {
        this.setCurrent(top); // described, and where F3 opens the hierarchy
        this.choose(top);
      } else if (!this.search.value) {
        this.search.value = text; // nothing matched: the query comes back, to be corrected
        this.runSearch();
      }
    };
  }

  /** An empty search box and no results (the highlighted label stays described). */
  clearQuery() {
    this.search.value = "";
    this.runSearch();
  }

  choose(id) {
    if (id === null || id === undefined) return;
    if (this.labels.isClass(id)) this.onChoose(id);
    else this.openGroup(id);
  }
}
