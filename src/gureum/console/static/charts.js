// uPlot charts for the console: time series on the shared axis, and grouped bars.
const palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"];

export function timeChart(element, labels, width) {
  const series = [{}].concat(
    labels.map((label, i) => ({ label, stroke: palette[i % palette.length], width: 2, spanGaps: false })),
  );
  const data = [[]].concat(labels.map(() => []));
  return new uPlot({ width: width || element.clientWidth || 800, height: 180, series }, data, element);
}

export function barChart(element, categories, labels, columns) {
  // Side by side: the first series left of each category, the second right of it.
  const bars = (i) => uPlot.paths.bars({ size: [0.35, 60], align: i === 0 ? -1 : 1 });
  const xs = categories.map((_, i) => i);
  const series = [{}].concat(
    labels.map((label, i) => ({
      label,
      fill: palette[i % palette.length] + "99",
      stroke: palette[i % palette.length],
      paths: bars(i),
      points: { show: false },
    })),
  );
  const options = {
    width: element.clientWidth || 600,
    height: 200,
    scales: { x: { time: false, range: [-0.5, categories.length - 0.5] }, y: { range: [0, 100] } },
    axes: [{ values: (_, ticks) => ticks.map((t) => (Number.isInteger(t) ? "v" + categories[t] : "")) }, {}],
    series,
  };
  return new uPlot(options, [xs].concat(columns), element);
}
