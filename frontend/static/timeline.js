// The capture timeline: thumbnails newest first, live on capture.frame, paging back through
// history, a viewer for one capture, pause/resume/capture-now controls and the capture counters.
// Data: GET /api/captures (proxied to the backend), the page's event stream (ctxbus.on), and
// POST /actions/capture/{pause,resume,now} (frontend/capture_actions.py → capture.sock).
"use strict";

(() => {
  const PAGE = 24;
  const root = document.getElementById("capture-timeline");
  if (!root || !window.ctxbus) return;
  const shown = new Set();
  let cursor = null;
  let status = null;

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

  root.replaceChildren(
    ...root.querySelectorAll("link"),
    el("div", { className: "card-head" }, [root.querySelector("h2") || el("h2", { textContent: "Capture timeline" }), stateBadge]),
    counters,
    el("div", { className: "tl-actions" }, [...buttons, note]),
    empty,
    grid,
    older,
    viewer.dialog,
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
    const item = el("li", {}, [button]);
    item.dataset.id = capture.id;
    item.dataset.testid = "capture-tile";
    item.dataset.at = String(capture.captured_at);
    return item;
  }

  function place(capture, { live }) {
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
    try {
      const query = new URLSearchParams({ limit: String(PAGE) });
      if (cursor) query.set("cursor", cursor);
      const answer = await fetch(`/api/captures?${query}`);
      if (!answer.ok) throw new Error(await ctxbus.failure(answer));
      const page = await answer.json();
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
  ctxbus.on("capture.status", (body) => {
    if (body) {
      status = body;
      renderStatus();
    }
  });
  loadPage();
})();
