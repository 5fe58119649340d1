// Filters of a run's problem table: rows carry data-flags ("wrong changed errors"); the choice lives in
// the URL's hash (#wrong), so a filtered view can be linked and survives a reload. Pages work without it.
"use strict";

function applyFilter(name) {
  const table = document.getElementById("problems");
  if (!table) return;
  let shown = 0;
  const rows = table.tBodies[0].rows;
  for (const row of rows) {
    const visible = !name || row.dataset.flags.split(" ").includes(name);
    row.hidden = !visible;
    if (visible) shown += 1;
  }
  for (const button of document.querySelectorAll("nav.filters button")) {
    button.classList.toggle("active", button.dataset.filter === name);
  }
  const note = document.getElementById("shown");
  if (note) note.textContent = `showing ${shown} of ${rows.length}`;
}

document.addEventListener("DOMContentLoaded", () => {
  for (const button of document.querySelectorAll("nav.filters button")) {
    button.addEventListener("click", () => {
      const name = button.dataset.filter;
      history.replaceState(null, "", name ? `#${name}` : location.pathname);
      applyFilter(name);
    });
  }
  applyFilter(decodeURIComponent(location.hash.slice(1)));
});
