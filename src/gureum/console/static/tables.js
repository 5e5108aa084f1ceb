// Sortable and filterable tables: click a header to sort, type in a filter box to narrow rows.
// Only reads and reorders existing rows (no markup is built from data).
const numeric = (text) => /^-?\d+(\.\d+)?( %| s)?$/.test(text.trim());

function sortBy(table, column, ascending) {
  const body = table.tBodies[0];
  const rows = Array.from(body.rows);
  rows.sort((a, b) => {
    const x = a.cells[column].textContent.trim();
    const y = b.cells[column].textContent.trim();
    const order = numeric(x) && numeric(y) ? parseFloat(x) - parseFloat(y) : x.localeCompare(y);
    return ascending ? order : -order;
  });
  rows.forEach((row) => body.appendChild(row));
}

for (const table of document.querySelectorAll("table.sortable")) {
  Array.from(table.tHead.rows[0].cells).forEach((th, column) => {
    th.addEventListener("click", () => {
      const ascending = th.dataset.order !== "asc";
      th.dataset.order = ascending ? "asc" : "desc";
      sortBy(table, column, ascending);
    });
  });
}

for (const input of document.querySelectorAll("input.filter")) {
  const table = document.getElementById(input.dataset.filter);
  input.addEventListener("input", () => {
    const wanted = input.value.toLowerCase();
    for (const row of table.tBodies[0].rows) {
      row.hidden = !row.textContent.toLowerCase().includes(wanted);
    }
  });
}
