// Front end of chkpt's pipeline widget (anywidget module).
// Draws what the kernel sends (svg, stages, totals, legend, message, confirm) and sends every
// toggle back to the kernel as a message; the kernel applies it through the notebook session.
// The SVG is laid out by Graphviz only when the graph's structure changes; states re-colour and
// re-label its nodes here. Zoom and pan never shrink labels below MIN_LABEL_PX.

const MIN_LABEL_PX = 10;
const FONT_PT = 11; // Graphviz font size of the labels (build_dot)
const PT_TO_PX = 4 / 3;
const MIN_SCALE = MIN_LABEL_PX / (FONT_PT * PT_TO_PX);
const MAX_SCALE = 3;
const STATE_WORDS = { ondisk: "on disk" };

function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null) continue;
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "checked" || key === "disabled" || key === "open") node[key] = Boolean(value);
    else node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined && child !== false) {
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
  }
  return node;
}

function formatSize(n) {
  if (!n) return "-";
  const units = ["B", "KB", "MB", "GB"];
  let size = n;
  let i = 0;
  while (Math.abs(size) >= 1024 && i < units.length - 1) {
    size /= 1024;
    i += 1;
  }
  return i === 0 ? `${size} B` : `${size.toFixed(1)} ${units[i]}`;
}

function formatSeconds(s) {
  if (!s) return "-";
  if (Math.abs(s) < 1) return `${Math.round(s * 1000)} ms`;
  if (Math.abs(s) < 60) return `${s.toFixed(1)} s`;
  if (Math.abs(s) < 3600) return `${Math.floor(s / 60)} min ${Math.floor(s % 60)} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

function classIndex(group, prefix) {
  for (const cls of group.classList) {
    if (cls.startsWith(prefix)) return Number(cls.slice(prefix.length));
  }
  return -1;
}

function whyOf(stage) {
  if (stage.state === "failed") return stage.error || "";
  if (stage.state === "stale" || stage.state === "missing") return stage.reason || "";
  if (stage.state === "ondisk") return "cached on disk, not loaded yet";
  return "";
}

// ------------------------------------------------------------------ cells of the notebook

function magicName(line) {
  const words = line.trim().split(/\s+/).slice(1);
  const valued = new Set(["--inputs", "--outputs", "--serializer"]);
  for (let i = 0; i < words.length; i += 1) {
    if (words[i].startsWith("-")) {
      if (valued.has(words[i])) i += 1;
    } else return words[i];
  }
  return null;
}

function cellText(cell) {
  const lines = cell.querySelectorAll(".jp-InputArea .cm-content .cm-line");
  if (lines.length) return Array.from(lines, (l) => l.textContent).join("\n");
  const area = cell.querySelector(".jp-InputArea textarea, .jp-InputArea pre");
  return area ? area.textContent || area.value || "" : "";
}

// The cell of a stage: by the name on its %%chkpt_stage line, else by the names it binds.
function findCell(root, stage) {
  const notebook = root.closest(".jp-Notebook");
  if (!notebook) return null;
  const cells = Array.from(notebook.querySelectorAll(".jp-CodeCell"));
  let fallback = null;
  for (const cell of cells) {
    const text = cellText(cell);
    const first = text.split("\n", 1)[0].trim();
    if (!first.startsWith("%%chkpt_stage")) continue;
    const name = magicName(first);
    if (name === stage.stage) return cell;
    if (!name && !fallback) {
      const outs = stage.outputs || [];
      if (outs.some((o) => new RegExp(`^${o}\\s*(=|,)`, "m").test(text))) fallback = cell;
    }
  }
  return fallback;
}

const tick = (ms = 30) => new Promise((resolve) => setTimeout(resolve, ms));

function scroller(node) {
  for (let n = node; n && n !== document.body; n = n.parentElement) {
    const style = getComputedStyle(n);
    if (/(auto|scroll)/.test(style.overflowY) && n.scrollHeight > n.clientHeight) return n;
  }
  return null;
}

// Long notebooks render their cells lazily (or only those near the view): scroll down a page at
// a time until the stage's cell exists; the scroll position is restored when it is not found.
async function findCellDeep(root, stage) {
  let cell = findCell(root, stage);
  const notebook = root.closest(".jp-Notebook");
  const outer = notebook && scroller(notebook);
  if (cell || !outer) return cell;
  const start = outer.scrollTop;
  outer.scrollTop = 0;
  for (let i = 0; i < 400 && !cell; i += 1) {
    await tick(60);
    cell = findCell(root, stage);
    if (cell) break;
    const before = outer.scrollTop;
    outer.scrollTop += Math.max(outer.clientHeight * 0.8, 200);
    if (outer.scrollTop === before) {
      await tick(200);
      cell = findCell(root, stage);
      break;
    }
  }
  if (!cell) outer.scrollTop = start;
  return cell;
}

// Select a cell as a click on its prompt does (the notebook finds the cell under the pointer);
// resolves to whether the notebook made it the active cell.
async function selectCell(cell) {
  const prompt = cell.querySelector(".jp-InputPrompt") || cell;
  const rect = prompt.getBoundingClientRect();
  const at = { clientX: rect.left + rect.width / 2, clientY: rect.top + Math.min(rect.height / 2, 8) };
  for (const type of ["mousedown", "mouseup", "click"]) {
    prompt.dispatchEvent(new MouseEvent(type, { bubbles: true, cancelable: true, button: 0, ...at }));
  }
  for (let i = 0; i < 20 && !cell.classList.contains("jp-mod-active"); i += 1) await tick();
  return cell.classList.contains("jp-mod-active");
}

async function jumpToCell(cell) {
  cell.scrollIntoView({ block: "center" });
  await selectCell(cell);
  cell.scrollIntoView({ block: "center" });
  cell.classList.add("chkpt-jump-flash");
  setTimeout(() => cell.classList.remove("chkpt-jump-flash"), 1600);
}

function runButton(root) {
  const panel = root.closest(".jp-NotebookPanel") || document;
  return panel.querySelector('[data-command="notebook:run-cell-and-select-next"]');
}

// Run one cell as the toolbar's Run button does (it acts on mousedown); false if it could not.
async function runCell(cell, button) {
  cell.scrollIntoView({ block: "center" });
  if (!(await selectCell(cell))) return false;
  for (const type of ["mousedown", "mouseup", "click"]) {
    button.dispatchEvent(new MouseEvent(type, { bubbles: true, cancelable: true, button: 0 }));
  }
  await tick();
  return true;
}

// ------------------------------------------------------------------ graph helpers

function relatives(stages) {
  const index = new Map(stages.map((s, i) => [s.stage, i]));
  const up = stages.map(() => []);
  const down = stages.map(() => []);
  stages.forEach((s, j) => {
    for (const name of s.inputs || []) {
      const i = index.get(name);
      if (i !== undefined && i !== j) {
        up[j].push(i);
        down[i].push(j);
      }
    }
  });
  const walk = (start, next) => {
    const seen = new Set();
    const todo = [start];
    while (todo.length) {
      for (const k of next[todo.pop()]) {
        if (!seen.has(k)) {
          seen.add(k);
          todo.push(k);
        }
      }
    }
    return seen;
  };
  return { up: (i) => walk(i, up), down: (i) => walk(i, down) };
}

// While a live view shows, its static copy (for exports and reopened notebooks) is hidden: by a
// CSS rule in JupyterLab and Notebook 7, and by this style in any other front end.
// The style lives as long as a live view of that widget does (a notebook closed and reopened in
// the same page must show its static copy again).
const liveViews = new Map();

function hideStaticCopy(id) {
  if (!id) return () => {};
  liveViews.set(id, (liveViews.get(id) || 0) + 1);
  if (!document.getElementById(`hide-${id}`)) {
    const style = document.createElement("style");
    style.id = `hide-${id}`;
    style.textContent = `.chkpt-static-copy[data-chkpt-id="${id}"] { display: none; }`;
    document.head.append(style);
  }
  return () => {
    const n = (liveViews.get(id) || 1) - 1;
    liveViews.set(id, n);
    if (n <= 0) {
      liveViews.delete(id);
      const style = document.getElementById(`hide-${id}`);
      if (style) style.remove();
    }
  };
}

function render({ model, el }) {
  const root = h("div", { class: "chkpt-widget" });
  el.append(root);
  const showStaticCopy = hideStaticCopy(model.get("static_id"));
  const view = { scale: null, svg: null, box: null, graph: null, tableOpen: null, notice: "" };

  const send = (action, stage, value) => model.send({ action, stage, value });
  const select = (stage) => {
    model.set("selected", stage);
    model.save_changes();
  };
  const stagesNow = () => model.get("stages") || [];
  const say = (text) => {
    view.notice = text;
    draw();
    clearTimeout(view.noticeTimer);
    view.noticeTimer = setTimeout(() => {
      view.notice = "";
      draw();
    }, 10000);
  };

  // ---------------------------------------------------------------- header and toolbar

  function staleToRun(stages) {
    // stale or failed stages, plus the stages they read from that did not run in this kernel
    const rel = relatives(stages);
    const want = new Set();
    stages.forEach((s, i) => {
      if (s.state === "stale" || s.state === "failed") {
        want.add(i);
        for (const k of rel.up(i)) if (!stages[k].this_session) want.add(k);
      }
    });
    return Array.from(want).sort((a, b) => a - b).map((i) => stages[i]);
  }

  async function goTo(stage) {
    await tick(0);
    const cell = await findCellDeep(root, stage);
    if (cell) await jumpToCell(cell);
    else say(`The cell of ${stage.stage} is not in this notebook view.`);
  }

  async function runStale() {
    const todo = staleToRun(stagesNow());
    const cells = [];
    for (const s of todo) cells.push(await findCellDeep(root, s));
    const button = runButton(root);
    const missing = todo.filter((_, i) => !cells[i]).map((s) => s.stage);
    if (!todo.length) {
      say("Nothing is stale.");
    } else if (!button || missing.length) {
      say(
        `Run these cells in order: ${todo.map((s) => s.stage).join(", ")} ` +
        "(or Run All: cached stages load in milliseconds)." +
          (missing.length ? ` Cells not found here: ${missing.join(", ")}.` : ""),
      );
    } else {
      const here = root.getBoundingClientRect().top;
      const failed = [];
      for (let i = 0; i < todo.length; i += 1) {
        if (!(await runCell(cells[i], button))) failed.push(todo[i].stage);
      }
      root.scrollIntoView({ block: here < 0 ? "start" : "nearest" });
      say(
        failed.length
          ? `Could not run ${failed.join(", ")} from here: run those cells yourself.`
          : `Running ${todo.length} cell(s): ${todo.map((s) => s.stage).join(", ")}.`,
      );
    }
  }

  function header(totals, stages) {
    const stale = staleToRun(stages).length;
    return h(
      "div",
      { class: "chkpt-header" },
      h("span", { class: "chkpt-title" }, "chkpt pipeline"),
      h("span", { class: "chkpt-totals" }, totals.text || ""),
      h(
        "span",
        { class: "chkpt-actions" },
        stale
          ? h(
              "button",
              {
                class: "chkpt-run-stale",
                title: "run the stale cells (and the cells they read from) in this notebook",
                onclick: runStale,
              },
              `run stale (${stale})`,
            )
          : null,
        h(
          "button",
          {
            class: "chkpt-clear-all",
            title: "delete the checkpoints of every stage listed here (asks first)",
            onclick: () => send("ask_clear", null),
            disabled: !stages.length,
          },
          "clear all",
        ),
      ),
    );
  }

  function confirmBar(confirm) {
    if (!confirm || !confirm.text) return null;
    const nothing = confirm.entries === 0;
    return h(
      "div",
      { class: "chkpt-confirm", role: "alertdialog" },
      h("span", { class: "chkpt-confirm-text" }, confirm.text),
      nothing
        ? null
        : h(
            "button",
            {
              class: "chkpt-confirm-delete",
              onclick: () => (confirm.all ? send("clear_all", null) : send("clear", confirm.stage)),
            },
            "delete",
          ),
      h(
        "button",
        { class: "chkpt-confirm-cancel", onclick: () => send("cancel_clear", null) },
        nothing ? "ok" : "cancel",
      ),
    );
  }

  // ---------------------------------------------------------------- the graph: zoom and pan

  function naturalSize(svg) {
    const vb = svg.viewBox && svg.viewBox.baseVal;
    if (vb && vb.width) return { w: vb.width * PT_TO_PX, h: vb.height * PT_TO_PX };
    return { w: parseFloat(svg.getAttribute("width")) * PT_TO_PX, h: parseFloat(svg.getAttribute("height")) * PT_TO_PX };
  }

  function fitScale() {
    if (!view.svg) return 1;
    const size = naturalSize(view.svg);
    const width = view.box.clientWidth || root.clientWidth || 800;
    const height = Math.min(window.innerHeight * 0.6, 560);
    return Math.max(MIN_SCALE, Math.min(1, (width - 4) / size.w, height / size.h));
  }

  function applyScale(scale, anchor) {
    if (!view.svg) return;
    const old = view.scale || scale;
    view.scale = Math.max(MIN_SCALE, Math.min(MAX_SCALE, scale));
    const size = naturalSize(view.svg);
    view.svg.setAttribute("width", `${size.w * view.scale}px`);
    view.svg.setAttribute("height", `${size.h * view.scale}px`);
    view.svg.dataset.scale = view.scale.toFixed(3);
    if (anchor) {
      const k = view.scale / old;
      view.box.scrollLeft = (view.box.scrollLeft + anchor.x) * k - anchor.x;
      view.box.scrollTop = (view.box.scrollTop + anchor.y) * k - anchor.y;
    }
    const label = root.querySelector(".chkpt-zoom-level");
    if (label) label.textContent = `${Math.round(view.scale * 100)}%`;
  }

  function toolbar() {
    const zoom = (k) => applyScale((view.scale || 1) * k);
    return h(
      "div",
      { class: "chkpt-toolbar", title: "Ctrl+wheel zooms, drag or wheel pans" },
      h("button", { class: "chkpt-zoom-out", title: "zoom out", onclick: () => zoom(1 / 1.25) }, "−"),
      h("span", { class: "chkpt-zoom-level" }, ""),
      h("button", { class: "chkpt-zoom-in", title: "zoom in", onclick: () => zoom(1.25) }, "+"),
      h("button", { class: "chkpt-fit", title: "fit the graph (labels stay readable)", onclick: () => applyScale(fitScale()) }, "fit"),
      h("button", { class: "chkpt-zoom-100", title: "actual size", onclick: () => applyScale(1) }, "100%"),
    );
  }

  function buildGraph(svgText) {
    const box = h("div", { class: "chkpt-viewport" });
    box.innerHTML = svgText;
    const svg = box.querySelector("svg");
    view.box = box;
    view.svg = svg;
    if (!svg) return box;
    svg.removeAttribute("style");
    const stages = stagesNow();
    const rel = relatives(stages);
    for (const group of svg.querySelectorAll("g.chkpt-stage")) {
      const i = classIndex(group, "chkpt-index-");
      group.setAttribute("role", "button");
      group.setAttribute("tabindex", "0");
      group.addEventListener("click", (ev) => {
        if (view.dragged) return;
        const stage = stagesNow()[i];
        if (stage) select(stage.stage);
        ev.stopPropagation();
      });
      group.addEventListener("dblclick", (ev) => {
        ev.stopPropagation(); // the notebook would make the widget's own cell active
        const stage = stagesNow()[i];
        if (stage) goTo(stage);
      });
      group.addEventListener("keydown", (ev) => {
        if (ev.key === "Enter" || ev.key === " ") {
          ev.preventDefault();
          const stage = stagesNow()[i];
          if (stage) select(stage.stage);
        }
      });
      group.addEventListener("mouseenter", () => highlight(svg, i, rel));
      group.addEventListener("mouseleave", () => highlight(svg, -1, rel));
    }
    // pan by dragging the background or nodes; a drag is not a click
    let start = null;
    box.addEventListener("pointerdown", (ev) => {
      if (ev.button !== 0) return;
      start = { x: ev.clientX, y: ev.clientY, left: box.scrollLeft, top: box.scrollTop };
      view.dragged = false;
    });
    box.addEventListener("pointermove", (ev) => {
      if (!start) return;
      const dx = ev.clientX - start.x;
      const dy = ev.clientY - start.y;
      if (Math.abs(dx) + Math.abs(dy) > 4) {
        view.dragged = true;
        box.classList.add("chkpt-panning");
      }
      box.scrollLeft = start.left - dx;
      box.scrollTop = start.top - dy;
    });
    const end = () => {
      start = null;
      box.classList.remove("chkpt-panning");
      setTimeout(() => (view.dragged = false), 0);
    };
    box.addEventListener("pointerup", end);
    box.addEventListener("pointerleave", end);
    box.addEventListener(
      "wheel",
      (ev) => {
        if (!(ev.ctrlKey || ev.metaKey)) return; // plain wheel scrolls (pans)
        ev.preventDefault();
        const rect = box.getBoundingClientRect();
        const anchor = { x: ev.clientX - rect.left, y: ev.clientY - rect.top };
        applyScale((view.scale || 1) * Math.exp(-ev.deltaY * 0.0015), anchor);
      },
      { passive: false },
    );
    return box;
  }

  function highlight(svg, i, rel) {
    svg.classList.toggle("chkpt-hovering", i >= 0);
    for (const g of svg.querySelectorAll(".chkpt-up, .chkpt-down, .chkpt-focus")) {
      g.classList.remove("chkpt-up", "chkpt-down", "chkpt-focus");
    }
    if (i < 0) return;
    const up = rel.up(i);
    const down = rel.down(i);
    for (const g of svg.querySelectorAll("g.chkpt-stage")) {
      const k = classIndex(g, "chkpt-index-");
      if (k === i) g.classList.add("chkpt-focus");
      else if (up.has(k)) g.classList.add("chkpt-up");
      else if (down.has(k)) g.classList.add("chkpt-down");
    }
    const inUp = (k) => k === i || up.has(k);
    const inDown = (k) => k === i || down.has(k);
    for (const g of svg.querySelectorAll("g.chkpt-edge")) {
      const a = classIndex(g, "chkpt-from-");
      const b = classIndex(g, "chkpt-to-");
      if (inUp(a) && inUp(b) && up.has(a)) g.classList.add("chkpt-up");
      else if (inDown(a) && inDown(b) && down.has(b)) g.classList.add("chkpt-down");
    }
  }

  // re-colour and re-label the nodes in place: no new layout for a state change
  function applyStates(stages, selected) {
    if (!view.svg) return;
    for (const group of view.svg.querySelectorAll("g.chkpt-stage")) {
      const i = classIndex(group, "chkpt-index-");
      const stage = stages[i];
      if (!stage) continue;
      for (const cls of Array.from(group.classList)) {
        if (cls.startsWith("chkpt-state-") || cls.startsWith("chkpt-session-")) group.classList.remove(cls);
      }
      group.classList.add(`chkpt-state-${stage.state}`);
      if (stage.this_session) group.classList.add(`chkpt-session-${stage.this_session}`);
      group.classList.toggle("chkpt-selected", stage.stage === selected);
      group.dataset.stage = stage.stage;
      group.setAttribute("aria-label", `${stage.stage}: ${stage.state}`);
      const texts = group.querySelectorAll("text");
      (stage.label || []).forEach((line, k) => {
        if (texts[k] && texts[k].textContent !== line) texts[k].textContent = line;
      });
      const title = group.querySelector("title");
      const why = whyOf(stage);
      if (title) title.textContent = `${stage.stage}: ${STATE_WORDS[stage.state] || stage.state}${why ? ` (${why})` : ""}. Double-click: go to its cell.`;
    }
  }

  // ---------------------------------------------------------------- legend, details, table

  function legend(entries) {
    return h(
      "div",
      { class: "chkpt-legend" },
      entries.map((e) =>
        h(
          "span",
          { class: `chkpt-legend-item chkpt-legend-${e.key}`, title: e.title },
          h("span", { class: `chkpt-swatch chkpt-swatch-${e.key}` }),
          e.label,
        ),
      ),
    );
  }

  function toggle(stage, name) {
    return h(
      "label",
      { class: `chkpt-toggle chkpt-${name}`, title: `${name} ${stage.stage} from/to its checkpoint on the next run` },
      h("input", {
        type: "checkbox",
        checked: stage[name],
        "data-stage": stage.stage,
        "data-option": name,
        onchange: (ev) => send(`set_${name}`, stage.stage, ev.target.checked),
      }),
      name,
    );
  }

  function row(stage, selected) {
    const tr = h(
      "tr",
      { class: `chkpt-row chkpt-state-${stage.state}${stage.stage === selected ? " chkpt-selected" : ""}`, "data-stage": stage.stage },
      h("td", { class: "chkpt-name", title: "select; double-click: go to its cell" }, stage.stage),
      h("td", {}, h("span", { class: `chkpt-chip chkpt-chip-${stage.state}` }, STATE_WORDS[stage.state] || stage.state)),
      h("td", {}, stage.this_session || "-"),
      h("td", {}, formatSize(stage.size)),
      h("td", {}, (stage.state === "cached" || stage.state === "ondisk") && stage.time_saved >= 0.001 ? formatSeconds(stage.time_saved) : "-"),
      h("td", {}, toggle(stage, "load")),
      h("td", {}, toggle(stage, "store")),
      h("td", {}, h("button", { class: "chkpt-clear", "data-stage": stage.stage, onclick: () => send("ask_clear", stage.stage) }, "clear")),
    );
    const name = tr.querySelector(".chkpt-name");
    name.addEventListener("click", () => select(stage.stage));
    name.addEventListener("dblclick", (ev) => {
      ev.stopPropagation();
      goTo(stage);
    });
    return tr;
  }

  function table(stages, selected) {
    const heads = ["stage", "state", "this session", "size", "hit saves", "load", "store", ""];
    const open = view.tableOpen === null ? stages.length <= 12 : view.tableOpen;
    const box = h(
      "details",
      { class: "chkpt-table-box", open },
      h("summary", {}, `table (${stages.length} stage${stages.length === 1 ? "" : "s"})`),
      h(
        "div",
        { class: "chkpt-table-scroll" },
        h(
          "table",
          { class: "chkpt-table" },
          h("thead", {}, h("tr", {}, heads.map((x) => h("th", {}, x)))),
          h("tbody", {}, stages.map((s) => row(s, selected))),
        ),
      ),
    );
    box.addEventListener("toggle", () => (view.tableOpen = box.open));
    return box;
  }

  function details(stage) {
    if (!stage) return h("div", { class: "chkpt-details chkpt-muted" }, "Click a stage to see why it is in its state; double-click to go to its cell.");
    const list = (xs) => (xs && xs.length ? xs.join(", ") : "-");
    const why = whyOf(stage);
    const cached = stage.state === "cached" || stage.state === "ondisk";
    return h(
      "div",
      { class: "chkpt-details", "data-stage": stage.stage },
      h("b", {}, stage.stage),
      ` · ${STATE_WORDS[stage.state] || stage.state}`,
      why ? h("span", { class: "chkpt-why" }, ` · ${why}`) : null,
      ` · inputs: ${list(stage.inputs)} · parameters: ${list(stage.params)}`,
      stage.compute_seconds ? ` · compute ${formatSeconds(stage.compute_seconds)}` : "",
      stage.load_seconds ? ` · load ${formatSeconds(stage.load_seconds)}` : "",
      cached && stage.time_saved >= 0.001 ? ` · a hit saves ${formatSeconds(stage.time_saved)}` : "",
      stage.key ? ` · key ${String(stage.key).slice(0, 12)}` : "",
      stage.not_saved
        ? h(
            "span",
            { class: "chkpt-not-saved" },
            " · not in the saved notebook (a deleted cell? save the notebook, or) ",
            h("button", { class: "chkpt-forget", title: "drop it from the pipeline; its checkpoints stay on disk", onclick: () => send("forget", stage.stage) }, "forget it"),
          )
        : null,
      " ",
      h(
        "button",
        {
          class: "chkpt-goto",
          onclick: (ev) => {
            ev.stopPropagation();
            goTo(stage);
          },
        },
        "go to cell",
      ),
    );
  }

  // ---------------------------------------------------------------- drawing

  function draw() {
    const stages = stagesNow();
    const selected = model.get("selected") || "";
    const svg = model.get("svg") || "";
    const message = model.get("message") || "";
    const notice = view.notice || model.get("notice") || "";
    if (svg !== view.svgText) {
      view.svgText = svg;
      view.graph = svg ? h("div", { class: "chkpt-graph" }, toolbar(), buildGraph(svg)) : null;
      if (!svg) view.svg = null;
    }
    applyStates(stages, selected);
    const parts = [
      header(model.get("totals") || {}, stages),
      confirmBar(model.get("confirm") || {}),
      notice ? h("div", { class: "chkpt-notice" }, notice) : null,
      view.graph,
      message ? h("div", { class: "chkpt-message" }, message) : null,
      details(stages.find((s) => s.stage === selected)),
      legend(model.get("legend") || []),
      stages.length
        ? table(stages, selected)
        : h("div", { class: "chkpt-muted" }, "No stage cells in this notebook yet: mark a cell with %%chkpt_stage."),
    ];
    // re-inserting the graph would reset its scroll position (the user's pan): keep it
    const pan = view.box ? [view.box.scrollLeft, view.box.scrollTop] : null;
    root.replaceChildren(...parts.filter((x) => x !== null && x !== undefined));
    if (pan && view.box) [view.box.scrollLeft, view.box.scrollTop] = pan;
    if (view.svg) {
      if (view.scale === null) requestAnimationFrame(() => applyScale(fitScale()));
      else applyScale(view.scale);
    }
  }

  const events = ["stages", "svg", "message", "notice", "totals", "legend", "selected", "confirm"].map((x) => `change:${x}`);
  const redraw = () => draw();
  for (const ev of events) model.on(ev, redraw);
  draw();
  return () => {
    for (const ev of events) model.off(ev, redraw);
    showStaticCopy();
  };
}

export default { render };
