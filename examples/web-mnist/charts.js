/**
 * Learning-curve charts on a canvas: one or more series against the step, with axes, a few grid
 * lines and the latest value in the title. Raw per-batch values are noisy, so a series can be drawn
 * as an exponential moving average instead.
 */

/** Exponential moving average of `values` (weight `alpha` on the newest value). */
export function smooth(values, alpha = 0.1) {
  const out = new Array(values.length);
  let ema;
  values.forEach((v, i) => (out[i] = ema = ema === undefined ? v : ema + alpha * (v - ema)));
  return out;
}

/**
 * Draws `series` ({ values, color, label }) on `canvas`. The y range is [yMin, yMax], where yMax
 * defaults to the largest value; `title` goes above the plot with the first series' last value.
 */
export function drawChart(canvas, { series, title, yMin = 0, yMax, digits = 3 }) {
  const ctx = canvas.getContext("2d");
  const { width, height } = canvas;
  const pad = { left: 42, right: 10, top: 24, bottom: 22 };
  const plotW = width - pad.left - pad.right, plotH = height - pad.top - pad.bottom;
  const longest = Math.max(1, ...series.map((s) => s.values.length));
  const top = yMax ?? Math.max(yMin + 1e-6, ...series.flatMap((s) => s.values.filter(Number.isFinite)));
  const x = (i) => pad.left + (longest > 1 ? (i / (longest - 1)) * plotW : 0);
  const y = (v) => pad.top + plotH - ((Math.min(top, Math.max(yMin, v)) - yMin) / (top - yMin)) * plotH;

  ctx.clearRect(0, 0, width, height);
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, width, height);
  ctx.font = "12px system-ui, sans-serif";
  ctx.strokeStyle = "#e3e3e3";
  ctx.fillStyle = "#666";
  for (let g = 0; g <= 4; g++) {
    const v = yMin + ((top - yMin) * g) / 4;
    ctx.beginPath();
    ctx.moveTo(pad.left, y(v));
    ctx.lineTo(width - pad.right, y(v));
    ctx.stroke();
    ctx.fillText(v.toFixed(2), 4, y(v) + 4);
  }
  ctx.fillText(`step ${longest > 1 ? longest : 0}`, width - pad.right - 60, height - 6);
  for (const s of series) {
    ctx.strokeStyle = s.color;
    ctx.lineWidth = 1.5;
    ctx.beginPath();
    s.values.forEach((v, i) => (i ? ctx.lineTo(x(i), y(v)) : ctx.moveTo(x(i), y(v))));
    ctx.stroke();
  }
  const last = series[0]?.values.at(-1);
  ctx.fillStyle = "#222";
  ctx.font = "bold 13px system-ui, sans-serif";
  ctx.fillText(`${title}${last === undefined ? "" : `: ${last.toFixed(digits)}`}`, pad.left, 16);
}
