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

  // The stage table of runs/templatetags/run_tags.py (STAGE_START, LOOP_START, LOOP_END).
  const scale = JSON.parse(document.getElementById("progress-scale")?.textContent || "{}");

  // The same reckoning as run_tags.overall_percent, so the bar agrees with a page reload.
  function overallPercent(progress) {
    let done = progress.step;
    let total = progress.steps;
    if (!total) { done = progress.clip; total = progress.clips; }
    if (total) return Math.floor(scale.loop_start + (scale.loop_end - scale.loop_start) * Math.min(1, (done || 0) / total));
    return (scale.stages || {})[progress.stage] || 0;
  }

  function stageText(progress) {
    const parts = [String(progress.label || progress.stage || "").replace(/_/g, " ")];
    if (progress.steps) parts.push(`step ${progress.step || 0}/${progress.steps}`);
    if (progress.clips) parts.push(`clip ${progress.clip || 0}/${progress.clips}`);
    if (progress.batch && progress.batch.total) parts.push(`batch ${progress.batch.done || 0}/${progress.batch.total} done`);
    return parts.filter(Boolean).join(" · ");
  }

  function showProgress(summary, status, progress) {
    const bar = summary.querySelector("[data-run-progress]");
    if (bar) {
      const pct = status === "completed" ? 100 : Math.max(0, Math.min(100, overallPercent(progress)));
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
