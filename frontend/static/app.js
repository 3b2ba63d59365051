// The dashboard: live state from /events (server-sent events fed by the bus), one action.
"use strict";

const ctxbus = (() => {
  const handlers = new Map();
  return {
    on(topic, handler) {
      if (!handlers.has(topic)) handlers.set(topic, []);
      handlers.get(topic).push(handler);
    },
    emit(topic, body, kind) {
      for (const handler of handlers.get(topic) || []) handler(body, kind);
    },
    // What a failed /api answer says: the backend's error envelope; for main's 503
    // backend_unavailable (no backend serves) its state, message and reason.
    async failure(answer) {
      const error = (await answer.json().catch(() => null))?.error;
      if (!error || typeof error !== "object") return `HTTP ${answer.status}`;
      if (error.code !== "backend_unavailable") return error.message || `HTTP ${answer.status}`;
      return `backend ${error.state}: ${error.message}` + (error.reason ? ` (${error.reason})` : "");
    },
  };
})();
window.ctxbus = ctxbus;

const $ = (id) => document.getElementById(id);
let backend = null;

function formatUptime(seconds) {
  if (seconds < 0) seconds = 0;
  const s = Math.floor(seconds % 60), m = Math.floor(seconds / 60) % 60, h = Math.floor(seconds / 3600);
  return h ? `${h}h ${m}m ${s}s` : m ? `${m}m ${s}s` : `${s}s`;
}

function renderBackend() {
  if (!backend) return;
  const state = $("backend-state");
  const degraded = backend.state === "running" && backend.health === "degraded";
  state.textContent = backend.state;
  state.className = `state state-${degraded ? "degraded" : backend.state}`;
  $("backend-pid").textContent = backend.pid ?? "–";
  $("backend-port").textContent = backend.port ?? "–";
  $("backend-restarts").textContent = backend.restarts;
  $("backend-seq").textContent = backend.seq;
  const reason = $("backend-reason");
  const why = backend.reason && backend.state !== "running" ? backend.reason : "";
  reason.textContent = why + (backend.exit_code != null ? ` (exit ${backend.exit_code})` : "");
  reason.hidden = !why;
  // Running but not well (its own /health says degraded): what is wrong, until it is ok again.
  const warning = $("backend-health");
  warning.textContent = degraded ? `Degraded: ${backend.health_reason || "the backend reports a problem"}` : "";
  warning.hidden = !degraded;
  renderUptime();
}

function renderUptime() {
  const running = backend && backend.state === "running";
  $("backend-uptime").textContent = running ? formatUptime(Date.now() / 1000 - (backend.started_at ?? backend.ts)) : "–";
}

function setLink(text, kind) {
  const link = $("link");
  link.textContent = text;
  link.className = `pill pill-${kind}`;
}

let handingOffFrom = null; // the pid a requested restart hands off from, until the new one runs

ctxbus.on("backend.status", (body, kind) => {
  if (kind === "lost") return setLink("main not responding", "lost");
  if (kind === "back") return setLink("live", "live");
  if (body) {
    backend = body;
    renderBackend();
    if (handingOffFrom !== null && body.state === "running" && body.pid !== handingOffFrom) {
      handingOffFrom = null;
      $("action-note").textContent = "";
    }
  }
});

ctxbus.on("component.status", (body) => {
  let row = document.querySelector(`tr[data-component="${CSS.escape(body.component)}"]`);
  if (!row) {
    document.querySelector("#components-body tr.empty")?.remove();
    row = document.createElement("tr");
    row.dataset.component = body.component;
    $("components-body").appendChild(row);
  }
  row.replaceChildren(...[body.component, body.state, body.pid ?? "–", body.restarts, body.state === "running" ? "" : body.reason ?? ""].map((text) => {
    const cell = document.createElement("td");
    cell.textContent = text;
    return cell;
  }));
});

function connect() {
  const source = new EventSource("/events");
  source.onopen = () => setLink("live", "live");
  source.onerror = () => setLink("reconnecting…", "unknown");
  source.onmessage = (message) => {
    const data = JSON.parse(message.data);
    ctxbus.emit(data.topic, data.body, data.kind);
  };
}

async function restartBackend() {
  const button = $("restart"), note = $("action-note"), error = $("error");
  button.disabled = true;
  error.hidden = true;
  note.textContent = "restart requested…";
  handingOffFrom = backend?.pid ?? -1; // -1: no backend process to hand off from
  try {
    const answer = await fetch("/actions/restart-backend", { method: "POST" });
    const body = await answer.json().catch(() => ({}));
    if (!answer.ok) throw new Error(body.error || `HTTP ${answer.status}`);
    // Cleared when the new backend is running (which may already have happened).
    note.textContent = handingOffFrom !== null ? "restart accepted; handing off" : "";
  } catch (exc) {
    handingOffFrom = null;
    note.textContent = "";
    error.textContent = `Restart failed: ${exc.message}`;
    error.hidden = false;
  } finally {
    button.disabled = false;
  }
}

document.addEventListener("DOMContentLoaded", () => {
  $("restart").addEventListener("click", restartBackend);
  setInterval(renderUptime, 1000);
  connect();
});
