// Live log panel: follows a LogTailConsumer websocket (logs/consumers.py) in a bounded DOM.
//
// Markup: logs/templates/logs/panel.html. Every [data-log-panel] element is mounted when this
// module loads (and after htmx swaps). The panel
// - opens with the last `maxLines` lines (?tail=N), then appends lines as they are written;
// - follows the end unless the user scrolled up; while scrolled up it stops drawing once the DOM
//   holds 2 x maxLines and counts what arrives ("Follow the end (N new lines)" reloads the tail);
// - keeps the DOM bounded: lines are drawn in whole batches, oldest batches are dropped, and
//   "Show earlier lines" fetches earlier lines from the caller's lines URL (log_lines_response);
// - reconnects with the offset after the last line it received, so it misses and repeats nothing;
// - draws at most once per animation frame, so a flood of lines never freezes the page.
// Each batch's element carries its byte offset (data-start), which "Show earlier" resumes from.
// The consumer's extra state arrives as a bubbling "logpanel:state" event (detail = state).

const DEFAULT_MAX_LINES = 2000;
const EARLIER_LINES = 500;
const REFUSED = {
  4400: "This log could not be opened from that point.",
  4401: "Log in again to see this log.",
  4403: "You may not see this log.",
};

export class LogPanel {
  constructor(root, { wsUrl, linesUrl = null, maxLines = DEFAULT_MAX_LINES }) {
    this.root = root;
    this.wsUrl = wsUrl;
    this.linesUrl = linesUrl;
    this.maxLines = maxLines;
    this.box = root.querySelector("[data-lines]");
    this.statusEl = root.querySelector("[data-status]");
    this.earlierButton = root.querySelector("[data-earlier]");
    this.followButton = root.querySelector("[data-follow]");
    this.offset = null; // end of the last line received: where a reconnect resumes
    this.firstOffset = null; // start of the first line in the DOM
    this.rendered = 0; // lines in the DOM
    this.pending = []; // batches received, not drawn yet
    this.pendingLines = 0;
    this.clearFirst = false; // the pending batches do not continue the DOM: clear it first
    this.expectTail = true; // the next "lines" message starts a fresh view (a ?tail= connect)
    this.following = true;
    this.detached = false; // new lines are counted, not drawn (scrolled up with a full DOM)
    this.unseen = 0;
    this.frame = 0;
    this.socket = null;
    this.retries = 0;
    this.stopped = false;
    this.box.addEventListener("scroll", () => this.onScroll(), { passive: true });
    this.earlierButton?.addEventListener("click", () => this.loadEarlier());
    this.followButton?.addEventListener("click", () => this.follow());
  }

  start() {
    this.connect({ tail: this.maxLines });
  }

  stop() {
    this.stopped = true;
    this.socket?.close(1000);
    cancelAnimationFrame(this.frame);
  }

  connect({ tail = null } = {}) {
    const url = new URL(this.wsUrl, location.href);
    url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
    if (tail !== null) {
      url.searchParams.set("tail", tail);
      this.expectTail = true;
    } else {
      url.searchParams.set("offset", this.offset);
    }
    const socket = new WebSocket(url);
    this.socket = socket;
    socket.onopen = () => {
      this.retries = 0;
    };
    socket.onmessage = (event) => this.onMessage(JSON.parse(event.data));
    socket.onclose = (event) => this.onClose(socket, event);
  }

  onMessage(message) {
    switch (message.type) {
      case "lines":
        return this.receive(message);
      case "synced":
        return this.setStatus("Live");
      case "state":
        return this.root.dispatchEvent(new CustomEvent("logpanel:state", { detail: message.state, bubbles: true }));
      case "error":
        return this.setStatus(message.message);
    }
  }

  receive(batch) {
    if (this.expectTail || (this.offset !== null && batch.start !== this.offset)) {
      // A fresh view (or, never expected, a gap): draw from this batch on.
      this.expectTail = false;
      this.pending = [];
      this.pendingLines = 0;
      this.clearFirst = true;
    }
    this.offset = batch.end;
    if (this.detached) {
      this.unseen += batch.lines.length;
      return this.updateButtons();
    }
    this.pending.push(batch);
    this.pendingLines += batch.lines.length;
    if (!this.following && !this.clearFirst && this.rendered + this.pendingLines > 2 * this.maxLines) {
      // The reader is scrolled up and the DOM is full: count what arrives, leave the view alone.
      this.detached = true;
      this.unseen += this.pendingLines;
      this.pending = [];
      this.pendingLines = 0;
      return this.updateButtons();
    }
    // Never hold more than the panel would show (a hidden tab gets no animation frames):
    // drop the oldest whole batches and redraw from the rest.
    while (this.pending.length > 1 && this.pendingLines - this.pending[0].lines.length >= this.maxLines) {
      this.pendingLines -= this.pending.shift().lines.length;
      this.clearFirst = true;
    }
    if (!this.frame) this.frame = requestAnimationFrame(() => this.draw());
  }

  draw() {
    this.frame = 0;
    if (this.clearFirst) {
      this.box.replaceChildren();
      this.rendered = 0;
      this.firstOffset = this.pending.length ? this.pending[0].start : this.offset;
      this.clearFirst = false;
    }
    const fragment = document.createDocumentFragment();
    for (const batch of this.pending) fragment.append(this.batchElement(batch.start, batch.lines, batch.levels));
    if (this.firstOffset === null && this.pending.length) this.firstOffset = this.pending[0].start;
    this.rendered += this.pendingLines;
    this.pending = [];
    this.pendingLines = 0;
    this.box.append(fragment);
    if (this.following) {
      this.trimTop();
      this.box.scrollTop = this.box.scrollHeight;
    }
    this.updateButtons();
  }

  batchElement(start, lines, levels) {
    const batch = document.createElement("div");
    batch.className = "lb";
    batch.dataset.start = start;
    batch.dataset.count = lines.length;
    lines.forEach((text, i) => {
      const line = document.createElement("div");
      line.className = `ll lvl-${levels ? levels[i] : "INFO"}`;
      line.textContent = text; // text, never HTML: a log line may contain markup
      batch.append(line);
    });
    return batch;
  }

  trimTop() {
    let first = this.box.firstElementChild;
    while (first && first.nextElementSibling && this.rendered - Number(first.dataset.count) >= this.maxLines) {
      this.rendered -= Number(first.dataset.count);
      first.remove();
      first = this.box.firstElementChild;
    }
    if (first) this.firstOffset = Number(first.dataset.start);
  }

  trimBottom(limit) {
    let last = this.box.lastElementChild;
    while (last && last.previousElementSibling && this.rendered > limit) {
      this.rendered -= Number(last.dataset.count);
      last.remove();
      last = this.box.lastElementChild;
      this.detached = true; // the newest lines are gone from the DOM: stop drawing new ones
    }
  }

  async loadEarlier() {
    if (!this.linesUrl || !this.firstOffset) return;
    const before = this.firstOffset;
    const url = new URL(this.linesUrl, location.href);
    url.searchParams.set("before", before);
    url.searchParams.set("limit", EARLIER_LINES);
    this.earlierButton.disabled = true;
    try {
      const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
      const data = await response.json();
      if (!response.ok) return this.setStatus(data.error || "Earlier lines could not be loaded.");
      if (before !== this.firstOffset || !data.lines.length) return; // the view was reset meanwhile
      const height = this.box.scrollHeight;
      this.box.prepend(this.batchElement(data.start, data.lines, null));
      this.box.scrollTop += this.box.scrollHeight - height; // keep the lines the user looks at in place
      this.rendered += data.lines.length;
      this.firstOffset = data.start;
      this.following = false;
      this.trimBottom(3 * this.maxLines);
    } catch (error) {
      this.setStatus("Earlier lines could not be loaded.");
    } finally {
      this.earlierButton.disabled = false;
      this.updateButtons();
    }
  }

  follow() {
    if (!this.detached) {
      this.following = true;
      this.box.scrollTop = this.box.scrollHeight;
      return this.updateButtons();
    }
    // Lines were skipped: start again from the tail.
    this.detached = false;
    this.unseen = 0;
    this.following = true;
    this.replaceSocket({ tail: this.maxLines });
  }

  replaceSocket(options) {
    if (this.socket) {
      this.socket.onmessage = null;
      this.socket.onclose = null;
      this.socket.close(1000);
    }
    this.connect(options);
  }

  onScroll() {
    const atBottom = this.box.scrollHeight - this.box.scrollTop - this.box.clientHeight < 8;
    this.following = atBottom && !this.detached;
    this.updateButtons();
  }

  onClose(socket, event) {
    if (socket !== this.socket || this.stopped) return;
    if (REFUSED[event.code]) return this.setStatus(REFUSED[event.code]);
    const delay = Math.min(10000, 500 * 2 ** this.retries++);
    this.setStatus("Connection lost; reconnecting…");
    setTimeout(() => {
      if (!this.stopped && socket === this.socket) this.connect(this.offset === null ? { tail: this.maxLines } : {});
    }, delay);
  }

  setStatus(text) {
    if (this.statusEl && this.statusEl.textContent !== text) this.statusEl.textContent = text;
  }

  updateButtons() {
    if (this.earlierButton) this.earlierButton.hidden = !(this.linesUrl && this.firstOffset);
    if (this.followButton) {
      this.followButton.hidden = this.following && !this.detached;
      this.followButton.textContent = this.unseen ? `Follow the end (${this.unseen} new lines)` : "Follow the end";
    }
  }
}

export function mountLogPanels(root = document) {
  const panels = [];
  for (const element of root.querySelectorAll("[data-log-panel]")) {
    if (element.logPanel) continue;
    element.logPanel = new LogPanel(element, {
      wsUrl: element.dataset.wsUrl,
      linesUrl: element.dataset.linesUrl || null,
      maxLines: Number(element.dataset.maxLines) || DEFAULT_MAX_LINES,
    });
    element.logPanel.start();
    panels.push(element.logPanel);
  }
  return panels;
}

mountLogPanels();
document.addEventListener("htmx:load", (event) => mountLogPanels(event.target));
