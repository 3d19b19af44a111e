// Side-by-side compare: several <video>s driven as one — play, pause, scrub and frame step together.
//
// Markup (runs/templates/runs/_compare.html):
//   <section data-compare data-fps="24">
//     <video data-compare-video ...> (the first one leads; the others follow it)
//     <button data-compare-action="toggle|back|forward">, <input type=range data-compare-scrub>,
//     <output data-compare-time>
// Keyboard inside the section: Space or K play/pause, "," and "." (or ←/→ outside the slider) step one frame.
// The section carries data-compare-state="playing|paused" so tests and styles can see the state.
"use strict";

(function () {
  const SCRUB_STEPS = 1000;

  function setupCompare(root) {
    const videos = Array.from(root.querySelectorAll("video[data-compare-video]"));
    if (!videos.length) return;
    const leader = videos[0];
    const followers = videos.slice(1);
    const fps = Number(root.dataset.fps) || 24;
    const frame = 1 / fps;
    const scrub = root.querySelector("[data-compare-scrub]");
    const timeOut = root.querySelector("[data-compare-time]");
    const toggle = root.querySelector('[data-compare-action="toggle"]');
    let playing = false;

    const duration = () => (Number.isFinite(leader.duration) ? leader.duration : 0);

    function show() {
      const t = leader.currentTime;
      if (scrub && duration()) scrub.value = String(Math.round((t / duration()) * SCRUB_STEPS));
      if (timeOut) timeOut.value = `${t.toFixed(2)} s · frame ${Math.floor(t * fps + 1e-6)}`;
      if (toggle) {
        toggle.textContent = playing ? "Pause" : "Play";
        toggle.setAttribute("aria-pressed", String(playing));
      }
      root.dataset.compareState = playing ? "playing" : "paused";
    }

    function seekAll(t) {
      const clamped = Math.max(0, Math.min(t, duration() || t));
      videos.forEach((v) => { v.currentTime = clamped; });
      show();
    }

    function pause() {
      playing = false;
      videos.forEach((v) => v.pause());
      seekAll(leader.currentTime);
    }

    function play() {
      if (leader.ended) seekAll(0);
      playing = true;
      followers.forEach((v) => { v.currentTime = leader.currentTime; });
      // Muted videos may autoplay; a rejected play() (e.g. not loaded yet) must not leave the UI lying.
      Promise.all(videos.map((v) => v.play())).catch(() => { playing = false; show(); });
      show();
    }

    function step(frames) {
      playing = false;
      videos.forEach((v) => v.pause());
      const current = Math.round(leader.currentTime * fps);
      // Land a hair after the frame's start so rounding never shows the previous frame.
      seekAll((current + frames) / fps + frame / 10);
    }

    // While playing, pull any follower that drifted more than a frame and a half back in line.
    function follow() {
      if (playing) {
        const t = leader.currentTime;
        followers.forEach((v) => {
          if (Math.abs(v.currentTime - t) > frame * 1.5) v.currentTime = t;
          if (v.paused && !v.ended) v.play().catch(() => {});
        });
      }
      show();
    }

    leader.addEventListener("timeupdate", follow);
    leader.addEventListener("seeked", show);
    leader.addEventListener("loadedmetadata", show);
    leader.addEventListener("ended", () => { playing = false; videos.forEach((v) => v.pause()); show(); });

    root.addEventListener("click", (event) => {
      const button = event.target.closest("[data-compare-action]");
      if (!button) return;
      const action = button.dataset.compareAction;
      if (action === "toggle") (playing ? pause : play)();
      if (action === "back") step(-1);
      if (action === "forward") step(1);
    });

    if (scrub) {
      scrub.max = String(SCRUB_STEPS);
      scrub.addEventListener("input", () => {
        if (playing) pause();
        seekAll((Number(scrub.value) / SCRUB_STEPS) * duration());
      });
    }

    root.addEventListener("keydown", (event) => {
      const inSlider = event.target === scrub;
      const key = event.key;
      if (key === " " || key === "k" || key === "K") {
        if (event.target.tagName === "BUTTON" && key === " ") return; // the button's own click handles it
        event.preventDefault();
        (playing ? pause : play)();
      } else if (key === "," || (key === "ArrowLeft" && !inSlider)) {
        event.preventDefault();
        step(-1);
      } else if (key === "." || (key === "ArrowRight" && !inSlider)) {
        event.preventDefault();
        step(1);
      }
    });

    show();
  }

  function init() {
    document.querySelectorAll("[data-compare]").forEach((root) => {
      if (!root.dataset.compareReady) {
        root.dataset.compareReady = "1";
        setupCompare(root);
      }
    });
  }

  document.addEventListener("DOMContentLoaded", init);
  document.addEventListener("htmx:afterSettle", init);
})();
