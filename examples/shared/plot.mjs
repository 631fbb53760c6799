/**
 * Learning curves as standalone SVG: one panel per quantity (loss, then a metric), epoch on the
 * x axis, train and validation curves with a legend, labelled axes with "nice" ticks. No
 * dependencies: the SVG is built as text, and every label is escaped.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";

const PANEL = { width: 420, height: 300, left: 64, right: 16, top: 52, bottom: 48 };
const SERIES = [
  { prefix: "", label: "train", color: "#1f77b4", dash: "" },
  { prefix: "val_", label: "validation", color: "#ff7f0e", dash: "6 4" },
];

/**
 * Writes the learning curve of a fit history (`{ loss: [...], val_loss: [...], accuracy: [...] }`)
 * to `path`. `panels` lists `{ key, label }` quantities to draw (default: loss and accuracy when present).
 */
export function writeLearningCurve(path, history, { title, panels } = {}) {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, learningCurveSvg(history, { title, panels }));
}

export function learningCurveSvg(history, { title = "Learning curve", panels } = {}) {
  const chosen = (panels ?? defaultPanels(history)).filter((p) => history[p.key]?.length);
  const width = PANEL.width * chosen.length;
  const height = PANEL.height + 28;
  const body = chosen.map((p, i) => panel(history, p, i * PANEL.width, 28)).join("\n");
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
    `<text x="${width / 2}" y="20" text-anchor="middle" font-size="15" font-weight="bold">${esc(title)}</text>`,
    body,
    "</svg>",
    "",
  ].join("\n");
}

function defaultPanels(history) {
  const panels = [{ key: "loss", label: "Loss" }];
  for (const key of Object.keys(history)) {
    if (key !== "loss" && !key.startsWith("val_")) panels.push({ key, label: titleCase(key) });
  }
  return panels;
}

/** One panel: frame, ticks, axis labels, both curves, legend. */
function panel(history, { key, label }, x0, y0) {
  const lines = SERIES.map((s) => ({ ...s, values: history[s.prefix + key] ?? [] })).filter((s) => s.values.length);
  const epochs = Math.max(...lines.map((s) => s.values.length));
  const all = lines.flatMap((s) => s.values).filter(Number.isFinite);
  const [lo, hi] = paddedRange(Math.min(...all), Math.max(...all));
  const plot = { x: x0 + PANEL.left, y: y0 + PANEL.top, w: PANEL.width - PANEL.left - PANEL.right, h: PANEL.height - PANEL.top - PANEL.bottom };
  const sx = (e) => plot.x + (epochs === 1 ? plot.w / 2 : ((e - 1) / (epochs - 1)) * plot.w);
  const sy = (v) => plot.y + plot.h - ((v - lo) / (hi - lo)) * plot.h;
  const out = [`<g>`, `<text x="${x0 + PANEL.width / 2}" y="${y0 + 18}" text-anchor="middle" font-size="13">${esc(label)}</text>`];
  out.push(`<rect x="${plot.x}" y="${plot.y}" width="${plot.w}" height="${plot.h}" fill="none" stroke="#333"/>`);
  for (const t of niceTicks(lo, hi, 8)) {
    const y = sy(t).toFixed(1);
    out.push(`<line x1="${plot.x - 5}" x2="${plot.x + plot.w}" y1="${y}" y2="${y}" stroke="#ddd"/>`);
    out.push(`<line x1="${plot.x - 5}" x2="${plot.x}" y1="${y}" y2="${y}" stroke="#333"/>`);
    out.push(`<text x="${plot.x - 8}" y="${y}" text-anchor="end" dominant-baseline="middle">${fmtTick(t)}</text>`);
  }
  for (const e of niceTicks(1, Math.max(epochs, 2), 8).filter((e) => Number.isInteger(e) && e <= epochs)) {
    const x = sx(e).toFixed(1);
    out.push(`<line x1="${x}" x2="${x}" y1="${plot.y + plot.h}" y2="${plot.y + plot.h + 5}" stroke="#333"/>`);
    out.push(`<text x="${x}" y="${plot.y + plot.h + 18}" text-anchor="middle">${e}</text>`);
  }
  out.push(`<text x="${plot.x + plot.w / 2}" y="${y0 + PANEL.height - 8}" text-anchor="middle">Epoch</text>`);
  const cy = plot.y + plot.h / 2;
  out.push(`<text x="${x0 + 16}" y="${cy}" text-anchor="middle" transform="rotate(-90 ${x0 + 16} ${cy})">${esc(label)}</text>`);
  for (const s of lines) out.push(curve(s, sx, sy));
  // The legend sits in the top margin, above the plot, so it never hides a curve.
  lines.forEach((s, i) => out.push(legendEntry(s, plot.x + plot.w / 2 - 110 + i * 120, y0 + 36)));
  out.push("</g>");
  return out.join("\n");
}

function curve({ values, color, dash }, sx, sy) {
  const pts = values.map((v, i) => [sx(i + 1), sy(v)]).filter(([, y]) => Number.isFinite(y));
  const d = pts.map(([x, y], i) => `${i ? "L" : "M"}${x.toFixed(1)},${y.toFixed(1)}`).join(" ");
  const dots = pts.map(([x, y]) => `<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="2.5" fill="${color}"/>`).join("");
  return `<path d="${d}" fill="none" stroke="${color}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ""}/>${dots}`;
}

function legendEntry({ label, color, dash }, x, y) {
  return `<line x1="${x}" x2="${x + 24}" y1="${y}" y2="${y}" stroke="${color}" stroke-width="2"${dash ? ` stroke-dasharray="${dash}"` : ""}/>` +
    `<text x="${x + 30}" y="${y}" dominant-baseline="middle">${esc(label)}</text>`;
}

/** The data range widened by 5% each side (and made non-empty for flat curves). */
function paddedRange(lo, hi) {
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) return [0, 1];
  const span = hi - lo || Math.abs(hi) || 1;
  return [lo - span * 0.05, hi + span * 0.05];
}

/** Ticks at 1, 2 or 5 × 10^k steps inside [lo, hi], about `target` of them. */
export function niceTicks(lo, hi, target) {
  const raw = (hi - lo) / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  // The 1-2-5 step nearest to the raw step (on a log scale).
  const step = [1, 2, 5, 10].map((m) => m * mag).reduce((best, s) => (Math.abs(Math.log(s / raw)) < Math.abs(Math.log(best / raw)) ? s : best));
  const ticks = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + step * 1e-9; t += step) ticks.push(Number(t.toPrecision(12)));
  return ticks;
}

function fmtTick(t) {
  if (t === 0) return "0";
  const a = Math.abs(t);
  return a >= 1e4 || a < 1e-3 ? t.toExponential(1) : String(Number(t.toPrecision(4)));
}

const titleCase = (s) => s.replace(/_/g, " ").replace(/^\w/, (c) => c.toUpperCase());
const esc = (s) => String(s).replace(/[<>&"]/g, (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;" })[c]);
