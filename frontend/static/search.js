// Search (issue 10): a search box over the text read on captures. Results are tiles, the matched
// words highlighted over each thumbnail (their boxes, scaled: percentages of the capture's size);
// a click opens the full picture with the boxes drawn.
// Data: GET /api/search?q=&limit=&cursor= (proxied to the backend). A hit's snippet is HTML from
// the backend (words escaped, matches in <mark>); only its text and <mark>s are kept.
"use strict";

(() => {
  const PAGE = 24;
  const root = document.getElementById("search");
  if (!root || !window.ctxbus) return;
  let query = "";
  let cursor = null;
  let view = 0; // bumped by each new search: answers for an older one are dropped

  function el(tag, props = {}, children = []) {
    const node = Object.assign(document.createElement(tag), props);
    for (const child of children) node.append(child);
    return node;
  }

  function tested(node, id) {
    node.dataset.testid = id;
    return node;
  }

  const input = tested(el("input", { type: "search", placeholder: "Find text you saw: words, \"a phrase\", conf*", className: "sr-input", name: "q" }), "search-input");
  input.setAttribute("aria-label", "search the text on captures");
  const go = tested(el("button", { type: "submit", textContent: "Search" }), "search-go");
  const form = el("form", { className: "sr-form" }, [input, go]);
  const note = tested(el("p", { className: "note", role: "status" }), "search-note");
  const grid = tested(el("ol", { className: "sr-grid" }), "search-results");
  const more = tested(el("button", { type: "button", textContent: "More results", hidden: true }), "search-more");
  const viewer = buildViewer();
  root.replaceChildren(...root.querySelectorAll("link"), root.querySelector("h2"), form, note, grid, more, viewer.dialog);

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    query = input.value.trim();
    cursor = null;
    view += 1;
    grid.replaceChildren();
    more.hidden = true;
    if (query) loadPage();
    else note.textContent = "";
  });
  more.addEventListener("click", () => loadPage());

  async function loadPage() {
    const mine = view;
    more.disabled = true;
    note.textContent = "searching…";
    try {
      const params = new URLSearchParams({ q: query, limit: String(PAGE) });
      if (cursor) params.set("cursor", cursor);
      const answer = await fetch(`/api/search?${params}`);
      if (!answer.ok) throw new Error(await ctxbus.failure(answer));
      const page = await answer.json();
      if (mine !== view) return;
      for (const hit of page.items) grid.append(tile(hit));
      cursor = page.next_cursor;
      more.hidden = !cursor;
      const count = grid.children.length;
      const shown = `${count}${cursor ? "+" : ""} ${count === 1 && !cursor ? "capture matches" : "captures match"}`;
      note.textContent = count ? shown : `nothing found for “${query}”`;
    } catch (exc) {
      if (mine === view) note.textContent = `search failed: ${exc.message}`;
    } finally {
      more.disabled = false;
    }
  }

  function when(seconds) {
    return new Date(seconds * 1000).toLocaleString();
  }

  // The picture with the matched words' boxes over it: the frame has the capture's aspect ratio,
  // so a box placed in percentages of the capture's size lands on its word at any scale.
  function framed(capture, boxes, src, className, boxId, loading = "lazy") {
    const img = el("img", { src, alt: `capture ${when(capture.captured_at)}`, loading });
    const frame = el("div", { className }, [img]);
    frame.style.aspectRatio = `${capture.width} / ${capture.height}`;
    frame.style.setProperty("--ratio", `${capture.width} / ${capture.height}`);
    for (const box of boxes) {
      const mark = tested(el("div", { className: "sr-box", title: box.text }), boxId);
      Object.assign(mark.style, {
        left: `${(100 * box.x) / capture.width}%`,
        top: `${(100 * box.y) / capture.height}%`,
        width: `${(100 * box.w) / capture.width}%`,
        height: `${(100 * box.h) / capture.height}%`,
      });
      frame.append(mark);
    }
    return frame;
  }

  // The snippet's text and <mark>s only, whatever else the HTML holds.
  function snippet(html) {
    const out = tested(el("p", { className: "sr-snippet" }), "search-snippet");
    const body = new DOMParser().parseFromString(html, "text/html").body;
    for (const node of body.childNodes) {
      out.append(node.nodeName === "MARK" ? el("mark", { textContent: node.textContent }) : node.textContent);
    }
    return out;
  }

  function tile(hit) {
    const capture = hit.capture;
    const thumb = `/api/captures/${encodeURIComponent(capture.id)}/thumbnail`;
    const button = el("button", { type: "button", className: "sr-tile", title: when(capture.captured_at) }, [
      framed(capture, hit.boxes, thumb, "sr-frame", "search-box"),
      el("span", { className: "sr-time", textContent: when(capture.captured_at) }),
    ]);
    button.addEventListener("click", () => viewer.open(hit));
    const app = el("span", { className: "sr-app", textContent: capture.app ?? "" });
    const title = el("span", { className: "sr-title", textContent: capture.title ?? "", title: capture.title ?? "" });
    const item = tested(el("li", {}, [button, app, title, snippet(hit.snippet)]), "search-hit");
    item.dataset.id = capture.id;
    return item;
  }

  function buildViewer() {
    const holder = el("div");
    const facts = el("p", { className: "note" });
    const close = el("button", { type: "button", textContent: "Close" });
    const dialog = tested(el("dialog", { className: "sr-viewer" }, [holder, el("div", { className: "actions" }, [close, facts])]), "search-viewer");
    close.addEventListener("click", () => dialog.close());
    dialog.addEventListener("click", (event) => { if (event.target === dialog) dialog.close(); });
    return {
      dialog,
      open(hit) {
        const capture = hit.capture;
        const image = `/api/captures/${encodeURIComponent(capture.id)}/image`;
        holder.replaceChildren(framed(capture, hit.boxes, image, "sr-frame sr-full", "search-viewer-box", "eager"));
        const where = [capture.app, capture.title].filter(Boolean).join(" · ");
        facts.textContent = `${when(capture.captured_at)}${where ? ` · ${where}` : ""} · ${hit.boxes.length} matched words`;
        dialog.showModal();
      },
    };
  }
})();
