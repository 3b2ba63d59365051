// "Today by app" (issue 9): time per application since local midnight, as a bar chart of divs.
// Data: GET /api/captures/apps?from=&to=&max_gap= (the backend sums, per app, the time from each
// capture to the next; gaps over max_gap = twice capture.status's interval_s count nothing).
// Refreshed on load, when the interval changes, a few seconds after new frames, and on
// "dashboard.captures_changed"; tells the page the apps it found on "dashboard.apps".
"use strict";

(() => {
  const DEFAULT_INTERVAL = 5; // seconds, capture.interval's default, until capture.status tells
  const FRAME_REFRESH = 5000; // ms: new frames redraw the chart at most this often
  const root = document.getElementById("app-time");
  if (!root || !window.ctxbus) return;
  let interval = null;
  let pending = null;
  let loading = Promise.resolve();

  function el(tag, props = {}, children = []) {
    const node = Object.assign(document.createElement(tag), props);
    for (const child of children) node.append(child);
    return node;
  }

  const chart = el("ol", { className: "at-chart" });
  chart.dataset.testid = "app-chart";
  const note = el("p", { className: "note", textContent: "Nothing captured today yet." });
  note.dataset.testid = "app-chart-note";
  root.append(chart, note);

  function duration(seconds) {
    const s = Math.round(seconds);
    const h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60;
    return h ? `${h}h ${m}m` : m ? `${m}m ${s % 60}s` : `${s}s`;
  }

  function today() {
    const start = new Date();
    start.setHours(0, 0, 0, 0);
    const end = new Date(start);
    end.setDate(end.getDate() + 1); // the next midnight, also across a DST change
    return { from: start.getTime() / 1000, to: end.getTime() / 1000 };
  }

  function bar(row, most) {
    const name = row.app ?? "unknown app";
    const fill = el("div", { className: "at-fill" });
    fill.style.width = `${most > 0 ? (100 * row.seconds) / most : 0}%`;
    fill.dataset.testid = "app-bar-fill";
    const item = el("li", { className: "at-row", title: `${name}: ${duration(row.seconds)}, ${row.frames} frames` }, [
      el("span", { className: "at-app", textContent: name }),
      el("div", { className: "at-track" }, [fill]),
      el("span", { className: "at-time", textContent: duration(row.seconds) }),
    ]);
    item.dataset.testid = "app-bar";
    item.dataset.app = row.app ?? "";
    item.dataset.seconds = String(row.seconds);
    return item;
  }

  function draw(apps) {
    const most = Math.max(0, ...apps.map((row) => row.seconds));
    chart.replaceChildren(...apps.map((row) => bar(row, most)));
    note.textContent = apps.length ? "" : "Nothing captured today yet.";
    note.hidden = apps.length > 0;
    ctxbus.emit("dashboard.apps", apps.map((row) => row.app).filter(Boolean));
  }

  async function load() {
    const { from, to } = today();
    const maxGap = 2 * (interval ?? DEFAULT_INTERVAL);
    const query = new URLSearchParams({ from: String(from), to: String(to), max_gap: String(maxGap) });
    try {
      const answer = await fetch(`/api/captures/apps?${query}`);
      if (!answer.ok) throw new Error(await ctxbus.failure(answer));
      draw((await answer.json()).apps);
    } catch (exc) {
      note.hidden = false;
      note.textContent = `could not load today's apps: ${exc.message}`;
    }
  }

  function refresh() {
    loading = loading.then(load); // one request at a time, in order
    return loading;
  }

  function soon() {
    if (pending !== null) return;
    pending = setTimeout(() => {
      pending = null;
      refresh();
    }, FRAME_REFRESH);
  }

  ctxbus.on("capture.status", (body) => {
    if (!body || body.interval_s === interval) return;
    interval = body.interval_s;
    refresh();
  });
  ctxbus.on("capture.frame", soon);
  ctxbus.on("dashboard.captures_changed", refresh);
  refresh();
})();
