// A run's page, kept live: the log panel (logs/logpanel.js) forwards the run's state from the
// websocket as a bubbling "logpanel:state" event ({status, progress, ...}); this updates the
// status badge, progress bar and stage line in place, and when the status changes reloads the
// summary (actions, output video, files) from the server through htmx.
"use strict";

(function () {
  const LABELS = {
    pending: "Pending", queued: "Queued", uploading: "Uploading", running: "Running", downloading: "Downloading",
    completed: "Completed", failed: "Failed", cancelling: "Cancelling", cancelled: "Cancelled",
  };

  function stageText(progress) {
    const parts = [];
    if (progress.stage) parts.push(String(progress.stage).replace(/_/g, " "));
    if (progress.total_steps) parts.push(`step ${progress.step || 0}/${progress.total_steps}`);
    if (progress.total_clips) parts.push(`clip ${progress.clip || 0}/${progress.total_clips}`);
    return parts.join(" · ");
  }

  function showProgress(summary, status, progress) {
    const bar = summary.querySelector("[data-run-progress]");
    if (bar) {
      let pct = status === "completed" ? 100 : Math.round(Number(progress.percent) || 0);
      pct = Math.max(0, Math.min(100, pct));
      bar.setAttribute("aria-valuenow", String(pct));
      bar.querySelector(".bar > span").style.width = `${pct}%`;
      bar.querySelector(".pct").textContent = `${pct}%`;
    }
    const stage = summary.querySelector("[data-run-stage]");
    if (stage) stage.textContent = stageText(progress);
  }

  function showStatus(summary, status) {
    const badge = summary.querySelector("[data-run-status]");
    if (!badge || badge.dataset.runStatus === status) return;
    badge.className = `badge status-${status}`;
    badge.dataset.runStatus = status;
    badge.textContent = LABELS[status] || status;
  }

  function refreshSummary(summary) {
    const url = summary.dataset.summaryUrl;
    if (!url || !window.htmx) return;
    window.htmx.ajax("GET", url, { target: "#run-summary", swap: "outerHTML" });
  }

  document.addEventListener("logpanel:state", (event) => {
    const summary = document.getElementById("run-summary");
    const state = event.detail || {};
    if (!summary || !state.status) return;
    const before = summary.dataset.status;
    showStatus(summary, state.status);
    showProgress(summary, state.status, state.progress || {});
    if (state.status !== before) {
      summary.dataset.status = state.status;
      // The actions, output video and files depend on the status: fetch them again.
      refreshSummary(summary);
    }
  });
})();
