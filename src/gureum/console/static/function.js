// A function's page: each alias's traffic split drawn from its table (configured weights beside
// the versions that actually ran), and a live tail of its logs over server-sent events.
import { barChart } from "./charts.js";

for (const table of document.querySelectorAll("table.split")) {
  const rows = Array.from(table.tBodies[0].rows);
  const categories = rows.map((row) => row.querySelector(".version").textContent);
  const configured = rows.map((row) => parseFloat(row.querySelector(".configured").dataset.value));
  const observed = rows.map((row) => parseFloat(row.querySelector(".observed").dataset.value));
  const element = document.querySelector(`.split-chart[data-alias="${CSS.escape(table.dataset.alias)}"]`);
  barChart(element, categories, ["Configured %", "Observed %"], [configured, observed]);
}

const tail = document.getElementById("log-tail");
if (tail) {
  const events = new EventSource(tail.dataset.source);
  events.onmessage = (message) => {
    for (const line of JSON.parse(message.data)) {
      tail.appendChild(document.createTextNode(line.m.endsWith("\n") ? line.m : line.m + "\n"));
    }
    const lines = tail.textContent.split("\n");
    if (lines.length > 500) tail.textContent = lines.slice(-500).join("\n");
    tail.scrollTop = tail.scrollHeight;
  };
}
