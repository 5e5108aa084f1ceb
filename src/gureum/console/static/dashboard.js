// The live dashboard: figures arrive over server-sent events (one JSON document per tick) and
// are drawn with uPlot; totals are written with textContent only.
import { timeChart } from "./charts.js";

const source = document.getElementById("dashboard-source");
const reasons = [
  "ConcurrentInvocationLimitExceeded",
  "ReservedFunctionConcurrentInvocationLimitExceeded",
  "FunctionInvocationRateLimitExceeded",
  "ReservedFunctionInvocationRateLimitExceeded",
];
const charts = {};
const keysOf = {};

function chart(name, labels, keys) {
  const signature = labels.join("\n");
  if (!charts[name] || charts[name].signature !== signature) {
    const element = document.getElementById("chart-" + name);
    element.textContent = "";
    charts[name] = { plot: timeChart(element, labels), signature };
  }
  keysOf[name] = keys;
  return charts[name].plot;
}

const sum = (values) => values.reduce((total, v) => total + (v || 0), 0);

function draw(data) {
  const xs = data.xs;
  const s = data.series;
  const constant = (value) => xs.map(() => value);
  const pools = Object.keys(data.reserved);
  const sets = {
    concurrency: [
      ["ConcurrentExecutions", s.concurrency],
      ["Account limit", constant(data.accountLimit)],
      ["Unreserved", s.unreserved],
    ].concat(pools.flatMap((name) => [
      [name, s["pool:" + name]],
      [name + " reserved", constant(data.reserved[name])],
    ])),
    throttles: reasons.map((r) => [r, s["throttle:" + r]]),
    starts: [["Cold starts", s.cold], ["Warm starts", s.warm]],
    init: [["Init Duration", s.init]],
    duration: [["p50", s.p50], ["p90", s.p90], ["p99", s.p99]],
    async: [["Queue depth", s.depth], ["AsyncEventAge", s.age]],
    deliveries: [
      ["Dead-letter deliveries", s.dlq],
      ["Destination deliveries", s.dest],
      ["DeadLetterErrors", s.dlqerr],
      ["DestinationDeliveryFailures", s.desterr],
    ],
    provisioned: data.provisioned.map((resource) => [resource, s["pc:" + resource]]),
  };
  for (const [name, pairs] of Object.entries(sets)) {
    if (pairs.length === 0) continue;
    const plot = chart(name, pairs.map((p) => p[0]), pairs.map((p) => p[0]));
    plot.setData([xs].concat(pairs.map((p) => p[1])));
  }
  for (const reason of reasons) {
    document.getElementById("total-" + reason).textContent = String(sum(s["throttle:" + reason]));
  }
  const body = document.querySelector("#activities tbody");
  body.textContent = "";
  for (const activity of data.activities) {
    const row = body.insertRow();
    for (const key of ["ResourceId", "StatusCode", "Description", "StartTime"]) {
      row.insertCell().textContent = activity[key] == null ? "" : String(activity[key]);
    }
  }
  document.getElementById("status").textContent =
    "Live: updated " + new Date().toLocaleTimeString() + " (CloudWatch, one point a minute).";
}

const events = new EventSource(source.dataset.source);
events.onmessage = (message) => draw(JSON.parse(message.data));
events.onerror = () => {
  document.getElementById("status").textContent = "Reconnecting...";
};
