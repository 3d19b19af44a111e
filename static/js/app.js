// Small behaviours shared by every page, wired by data attributes (no inline handlers):
//   <form data-confirm="Delete this?">        asks before submitting a destructive action
//   <input type=range data-output="id">        shows its value in <output id=...>
//   <input type=checkbox data-select-all="name"> ticks every checkbox called `name`
//   <button data-needs-selection="name">       enabled only while a checkbox called `name` is ticked
"use strict";

document.addEventListener("submit", (event) => {
  const form = event.target;
  const question = form.dataset && form.dataset.confirm;
  if (question && !window.confirm(question)) event.preventDefault();
}, true);

function syncSelectionButtons(root) {
  root.querySelectorAll("[data-needs-selection]").forEach((button) => {
    const name = button.dataset.needsSelection;
    button.disabled = !document.querySelector(`input[type=checkbox][name="${name}"]:checked`);
  });
}

document.addEventListener("input", (event) => {
  const el = event.target;
  if (el.matches && el.matches("input[type=range][data-output]")) {
    const out = document.getElementById(el.dataset.output);
    if (out) out.value = Number(el.value).toFixed(2);
  }
});

document.addEventListener("change", (event) => {
  const el = event.target;
  if (el.matches && el.matches("input[type=checkbox][data-select-all]")) {
    document.querySelectorAll(`input[type=checkbox][name="${el.dataset.selectAll}"]`)
      .forEach((box) => { box.checked = el.checked; });
  }
  if (el.matches && el.matches("input[type=checkbox]")) syncSelectionButtons(document);
});

document.addEventListener("DOMContentLoaded", () => syncSelectionButtons(document));
document.addEventListener("htmx:afterSettle", () => syncSelectionButtons(document));
