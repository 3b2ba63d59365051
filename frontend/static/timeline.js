// The capture timeline: thumbnails newest first (each with its app and window title), live on
// capture.frame, paging back through history, a filter by app, "never record this app" with the
// offer to delete that app's captures, a viewer for one capture, pause/resume/capture-now controls
// and the capture counters.
// Data: GET /api/captures[?app=] (proxied to the backend), the page's event stream (ctxbus.on),
// POST /actions/capture/{pause,resume,now,exclude} (frontend/capture_actions.py → capture.sock),
// DELETE /api/captures?app=. Tells other parts of the page on ctxbus: "dashboard.captures_changed"
// after a delete; listens to "dashboard.apps" (apps known elsewhere, e.g. today's chart).
"use strict";

(() => {
  const PAGE = 24;
  const root = document.getElementById("capture-timeline");
  if (!root || !window.ctxbus) return;
  const shown = new Set();
  let cursor = null;
  let status = null;
  let appFilter = ""; // "" = every app; else GET /api/captures?app=
  let view = 0; // bumped when the filter changes: answers for an older view are dropped

  function el(tag, props = {}, children = []) {
    const node = Object.assign(document.createElement(tag), props);
    for (const child of children) node.append(child);
    return node;
  }

  const stateBadge = el("span", { className: "state state-unknown" }, ["unknown"]);
  stateBadge.dataset.testid = "capture-state";
  const counters = el("p", { className: "tl-counters" }, ["–"]);
  counters.dataset.testid = "capture-counters";
  const note = el("span", { className: "note" });
  note.dataset.testid = "capture-note";
  const buttons = ["pause", "resume", "now"].map((op) => {
    const label = { pause: "Pause", resume: "Resume", now: "Capture now" }[op];
    const button = el("button", { type: "button", textContent: label });
    button.dataset.testid = `capture-${op}`;
    button.addEventListener("click", () => act(op, button));
    return button;
  });
  const grid = el("ol", { className: "tl-grid" });
  grid.dataset.testid = "capture-grid";
  const empty = el("p", { className: "note tl-empty", textContent: "No captures yet." });
  const older = el("button", { type: "button", textContent: "Older captures", hidden: true });
  older.dataset.testid = "capture-older";
  older.addEventListener("click", () => loadPage());
  const viewer = buildViewer();
  const filter = buildFilter();
  const exclusion = buildExclusion();

  root.replaceChildren(
    ...root.querySelectorAll("link"),
    el("div", { className: "card-head" }, [root.querySelector("h2") || el("h2", { textContent: "Capture timeline" }), stateBadge]),
    counters,
    el("div", { className: "tl-actions" }, [...buttons, note]),
    el("div", { className: "tl-actions" }, [filter.label, filter.select]),
    empty,
    grid,
    older,
    viewer.dialog,
    exclusion.dialog,
  );

  function when(seconds) {
    return new Date(seconds * 1000).toLocaleString();
  }

  function tile(capture) {
    const img = el("img", { src: `/api/captures/${encodeURIComponent(capture.id)}/thumbnail`, alt: `capture ${when(capture.captured_at)}`, loading: "lazy" });
    const button = el("button", { type: "button", className: "tl-tile", title: when(capture.captured_at) }, [
      img,
      el("span", { className: "tl-time", textContent: new Date(capture.captured_at * 1000).toLocaleTimeString() }),
    ]);
    button.addEventListener("click", () => viewer.open(capture));
    const item = el("li", {}, [button, ...windowFacts(capture)]);
    item.dataset.id = capture.id;
    item.dataset.testid = "capture-tile";
    item.dataset.at = String(capture.captured_at);
    item.dataset.app = capture.app ?? "";
    return item;
  }

  // ---- what was on screen (issue 9): the tile's app and title, "never record this app" ----
  function windowFacts(capture) {
    const app = el("span", { className: "tl-app", textContent: capture.app ?? "unknown app" });
    app.dataset.testid = "capture-app";
    const title = el("span", { className: "tl-title", textContent: capture.title ?? "", title: capture.title ?? "" });
    title.dataset.testid = "capture-title";
    if (!capture.app) return [app, title];
    const never = el("button", { type: "button", className: "tl-never", textContent: "Never record this app" });
    never.dataset.testid = "capture-never";
    never.addEventListener("click", () => exclusion.exclude(capture.app, never));
    return [app, title, never];
  }

  function place(capture, { live }) {
    filter.know(capture.app);
    if (appFilter && capture.app !== appFilter) return;
    if (shown.has(capture.id)) return;
    shown.add(capture.id);
    empty.hidden = true;
    const item = tile(capture);
    if (!live) return grid.append(item);
    // newest first: before the first tile captured earlier than this one
    const next = [...grid.children].find((li) => Number(li.dataset.at) < capture.captured_at);
    grid.insertBefore(item, next || null);
  }

  async function loadPage() {
    older.disabled = true;
    const mine = view;
    try {
      const query = new URLSearchParams({ limit: String(PAGE) });
      if (cursor) query.set("cursor", cursor);
      if (appFilter) query.set("app", appFilter);
      const answer = await fetch(`/api/captures?${query}`);
      if (!answer.ok) throw new Error(await ctxbus.failure(answer));
      const page = await answer.json();
      if (mine !== view) return; // the filter changed meanwhile
      for (const capture of page.items) place(capture, { live: false });
      cursor = page.next_cursor;
      older.hidden = !cursor;
    } catch (exc) {
      note.textContent = `could not load captures: ${exc.message}`;
    } finally {
      older.disabled = false;
    }
  }

  function renderStatus() {
    if (!status) return;
    stateBadge.textContent = status.state;
    stateBadge.className = `state state-${status.state === "paused" ? "stopped" : status.state}`;
    const c = status.counters;
    let text = `every ${status.interval_s}s · grabbed ${c.grabbed} · kept ${c.kept} · skipped ${c.skipped} · spooled ${c.spooled} · uploaded ${c.uploaded} · dropped ${c.dropped}`;
    if (status.spool_frames) text += ` · waiting in spool ${status.spool_frames}`;
    if (status.disk_full) text += " · disk full: new frames are held back or dropped; free disk space";
    if (status.last_error && (status.state !== "running" || status.disk_full)) text += ` · ${status.last_error}`;
    counters.textContent = text;
  }

  async function act(op, button) {
    button.disabled = true;
    note.textContent = "";
    try {
      const answer = await fetch(`/actions/capture/${op}`, { method: "POST" });
      const body = await answer.json().catch(() => ({}));
      if (!answer.ok) throw new Error(body.error || `HTTP ${answer.status}`);
      if (op === "now") note.textContent = `captured: kept ${body.kept}, skipped ${body.skipped}`;
    } catch (exc) {
      note.textContent = `${op} failed: ${exc.message}`;
    } finally {
      button.disabled = false;
    }
  }

  // ---- the filter by app (issue 9): a select of the apps seen, reloading the grid from the API ----
  function buildFilter() {
    const select = el("select", { className: "tl-filter", id: "capture-app-filter" }, [el("option", { value: "", textContent: "All apps" })]);
    select.dataset.testid = "capture-app-filter";
    const label = el("label", { htmlFor: "capture-app-filter", textContent: "App" });
    select.addEventListener("change", () => reload(select.value));
    return {
      label,
      select,
      know(app) {
        if (!app || [...select.options].some((option) => option.value === app)) return;
        const after = [...select.options].slice(1).find((option) => option.value.localeCompare(app) > 0);
        select.insertBefore(el("option", { value: app, textContent: app }), after || null);
      },
    };
  }

  function reload(app) {
    appFilter = app;
    view += 1;
    shown.clear();
    grid.replaceChildren();
    cursor = null;
    empty.hidden = false;
    older.hidden = true;
    loadPage();
  }

  // ---- "never record this app" (issue 9): a rule in capture at once, then offer to delete ----
  function buildExclusion() {
    const text = el("p", {});
    text.dataset.testid = "exclude-offer-text";
    const remove = el("button", { type: "button", textContent: "Delete them" });
    remove.dataset.testid = "exclude-delete";
    const keep = el("button", { type: "button", textContent: "Keep them" });
    keep.dataset.testid = "exclude-keep";
    const dialog = el("dialog", { className: "tl-viewer" }, [text, el("div", { className: "actions" }, [remove, keep])]);
    dialog.dataset.testid = "exclude-offer";
    let app = null;
    keep.addEventListener("click", () => dialog.close());
    remove.addEventListener("click", async () => {
      dialog.close();
      await deleteApp(app);
    });
    return {
      dialog,
      async exclude(name, button) {
        button.disabled = true;
        note.textContent = "";
        try {
          const answer = await fetch("/actions/capture/exclude", {
            method: "POST",
            headers: { "Content-Type": "application/json" },
            body: JSON.stringify({ app: name }),
          });
          const body = await answer.json().catch(() => ({}));
          if (!answer.ok) throw new Error(body.error || `HTTP ${answer.status}`);
          note.textContent = `${name} will not be recorded`;
          app = name;
          text.textContent = `${name} will not be recorded any more. Delete its stored captures too?`;
          dialog.showModal();
        } catch (exc) {
          note.textContent = `could not stop recording ${name}: ${exc.message}`;
        } finally {
          button.disabled = false;
        }
      },
    };
  }

  async function deleteApp(app) {
    try {
      const answer = await fetch(`/api/captures?${new URLSearchParams({ app })}`, { method: "DELETE" });
      if (!answer.ok) throw new Error(await ctxbus.failure(answer));
      const { deleted } = await answer.json();
      for (const item of [...grid.children]) {
        if (item.dataset.app !== app) continue;
        shown.delete(item.dataset.id);
        item.remove();
      }
      empty.hidden = grid.children.length > 0;
      note.textContent = `${app} will not be recorded; deleted ${deleted} stored capture${deleted === 1 ? "" : "s"}`;
      ctxbus.emit("dashboard.captures_changed", { app, deleted });
    } catch (exc) {
      note.textContent = `could not delete the captures of ${app}: ${exc.message}`;
    }
  }

  function buildViewer() {
    const img = el("img", { className: "tl-full", alt: "" });
    const facts = el("p", { className: "note" });
    const close = el("button", { type: "button", textContent: "Close" });
    const dialog = el("dialog", { className: "tl-viewer" }, [img, el("div", { className: "actions" }, [close, facts])]);
    dialog.dataset.testid = "capture-viewer";
    close.addEventListener("click", () => dialog.close());
    dialog.addEventListener("click", (event) => { if (event.target === dialog) dialog.close(); });
    return {
      dialog,
      open(capture) {
        img.src = `/api/captures/${encodeURIComponent(capture.id)}/image`;
        img.alt = `capture ${when(capture.captured_at)}`;
        facts.textContent = `${when(capture.captured_at)} · monitor ${capture.monitor} · ${capture.width}×${capture.height} · ${Math.round(capture.bytes / 1024)} KiB`;
        dialog.showModal();
      },
    };
  }

  ctxbus.on("capture.frame", (body) => {
    if (body) place(body, { live: true });
  });
  ctxbus.on("dashboard.apps", (apps) => {
    for (const app of apps || []) filter.know(app);
  });
  ctxbus.on("capture.status", (body) => {
    if (body) {
      status = body;
      renderStatus();
    }
  });
  loadPage();
})();
