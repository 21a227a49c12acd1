// Front end of chkpt's pipeline widget (anywidget module).
// Draws what the kernel sends (svg, stages, totals, legend, message) and sends every toggle
// back to the kernel as a message; the kernel applies it through the notebook session.

function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "checked" || key === "disabled") node[key] = Boolean(value);
    else node.setAttribute(key, value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) {
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

function stageIndexOf(group) {
  for (const cls of group.classList) {
    if (cls.startsWith("chkpt-index-")) return Number(cls.slice("chkpt-index-".length));
  }
  return -1;
}

function render({ model, el }) {
  const root = h("div", { class: "chkpt-widget" });
  el.append(root);

  const send = (action, stage, value) => model.send({ action, stage, value });
  const select = (stage) => {
    model.set("selected", stage);
    model.save_changes();
  };

  function header(totals) {
    const clearAll = h(
      "button",
      {
        class: "chkpt-clear-all",
        title: `delete the checkpoints of every stage (${formatSize(totals.disk_bytes)})`,
        onclick: () => send("clear_all", null),
      },
      "clear all",
    );
    return h(
      "div",
      { class: "chkpt-header" },
      h("span", { class: "chkpt-title" }, "chkpt pipeline"),
      h("span", { class: "chkpt-totals" }, totals.text || ""),
      clearAll,
    );
  }

  function graph(svg, stages, selected) {
    const box = h("div", { class: "chkpt-graph" });
    box.innerHTML = svg;
    for (const group of box.querySelectorAll("g.chkpt-stage")) {
      const stage = stages[stageIndexOf(group)];
      if (!stage) continue;
      group.dataset.stage = stage.stage;
      group.setAttribute("role", "button");
      group.setAttribute("tabindex", "0");
      group.setAttribute("aria-label", `${stage.stage}: ${stage.state}`);
      group.addEventListener("click", () => select(stage.stage));
      group.addEventListener("keydown", (ev) => {
        if (ev.key === "Enter" || ev.key === " ") {
          ev.preventDefault();
          select(stage.stage);
        }
      });
      if (stage.stage === selected) group.classList.add("chkpt-selected");
    }
    return box;
  }

  function legend(entries) {
    return h(
      "div",
      { class: "chkpt-legend" },
      entries.map((e) =>
        h(
          "span",
          { class: `chkpt-legend-item chkpt-legend-${e.key}`, title: e.title },
          h("span", {
            class: "chkpt-swatch",
            style: `background:${e.fill};border:2px ${e.style} ${e.border}`,
          }),
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
      h("td", { class: "chkpt-name" }, stage.stage),
      h("td", {}, h("span", { class: `chkpt-chip chkpt-chip-${stage.state}` }, stage.state)),
      h("td", {}, stage.this_session || "-"),
      h("td", {}, formatSize(stage.size)),
      h("td", {}, formatSeconds(stage.time_saved)),
      h("td", {}, toggle(stage, "load")),
      h("td", {}, toggle(stage, "store")),
      h("td", {}, h("button", { class: "chkpt-clear", "data-stage": stage.stage, onclick: () => send("clear", stage.stage) }, "clear")),
    );
    tr.querySelector(".chkpt-name").addEventListener("click", () => select(stage.stage));
    return tr;
  }

  function table(stages, selected) {
    const heads = ["stage", "state", "this session", "size", "hit saves", "load", "store", ""];
    return h(
      "table",
      { class: "chkpt-table" },
      h("thead", {}, h("tr", {}, heads.map((x) => h("th", {}, x)))),
      h("tbody", {}, stages.map((s) => row(s, selected))),
    );
  }

  function details(stage) {
    if (!stage) return h("div", { class: "chkpt-details chkpt-muted" }, "Click a stage to select it.");
    const list = (xs) => (xs && xs.length ? xs.join(", ") : "-");
    return h(
      "div",
      { class: "chkpt-details", "data-stage": stage.stage },
      h("b", {}, stage.stage),
      ` · ${stage.state}`,
      stage.state === "stale" && stage.reason ? ` (${stage.reason})` : "",
      stage.state === "failed" && stage.error ? ` (${stage.error})` : "",
      ` · inputs: ${list(stage.inputs)} · parameters: ${list(stage.params)}`,
      stage.compute_seconds ? ` · compute ${formatSeconds(stage.compute_seconds)}` : "",
      stage.load_seconds ? ` · load ${formatSeconds(stage.load_seconds)}` : "",
      stage.key ? ` · key ${String(stage.key).slice(0, 12)}` : "",
    );
  }

  function draw() {
    const stages = model.get("stages") || [];
    const selected = model.get("selected") || "";
    const svg = model.get("svg") || "";
    const message = model.get("message") || "";
    const parts = [
      header(model.get("totals") || {}),
      svg ? graph(svg, stages, selected) : null,
      message ? h("div", { class: "chkpt-message" }, message) : null,
      legend(model.get("legend") || []),
      stages.length ? table(stages, selected) : h("div", { class: "chkpt-muted" }, "No stage cells yet: mark a cell with %%chkpt_stage."),
      details(stages.find((s) => s.stage === selected)),
    ];
    root.replaceChildren(...parts.filter((x) => x !== null));
  }

  const events = ["stages", "svg", "message", "totals", "legend", "selected"].map((x) => `change:${x}`);
  for (const ev of events) model.on(ev, draw);
  draw();
  return () => {
    for (const ev of events) model.off(ev, draw);
  };
}

export default { render };
