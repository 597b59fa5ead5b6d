// The output column: the metrics, the loss (or accuracy) curve, the output over the plane
// (or the neuron pointed at) with the points over it, the colour legend, and the view
// options, which change only what is shown, never the experiment.

import { Chart } from "./chart.js";
import { $, outputKind, regressionScale } from "./dom.js";
import { channel, paintGrid, paintPoints } from "./heatmap.js";
import { showLegend } from "./legend.js";
import { compact } from "./numbers.js";

/** The output's grid, or the hovered neuron's (state.hover: {layer, unit}). */
function drawHeatmap(ctx, { frame, hover, config, points, view }) {
  const grid = hover && frame.grids[`layer${hover.layer + 1}`];
  if (grid && hover.unit < grid.shape[0]) {
    const neuron = channel(grid, hover.unit);
    paintGrid(ctx, neuron.grid, { kind: "scale", scale: neuron.scale });
    $("heatmap-label").textContent = `layer ${hover.layer + 1}, neuron ${hover.unit + 1}`;
    return;
  }
  const kind = outputKind(config);
  paintGrid(ctx, frame.grids.output, {
    kind, scale: kind === "scale" ? regressionScale(points) : 1, discretize: view.discretize,
  });
  $("heatmap-label").textContent = "";
}

export function bindOutput(store) {
  const heatmap = $("heatmap").getContext("2d");
  const pointsLayer = $("points").getContext("2d");
  const chart = new Chart($("chart"));
  const view = (key) => (e) => store.set({ view: { ...store.state.view, [key]: e.target.checked } });
  $("show-test").addEventListener("change", view("showTest"));
  $("discretize").addEventListener("change", view("discretize"));
  $("show-accuracy").addEventListener("change", view("accuracy"));
  $("log-scale").addEventListener("change", view("logScale"));

  store.watch(["frame"], ({ frame: { header: { metrics: m } } }) => {
    for (const key of ["test_loss", "train_loss", "test_accuracy", "train_accuracy"]) {
      const el = $(key.replace("_", "-")), text = compact(m[key]);
      if (el.textContent !== text) el.textContent = text; // the same text: no layout
    }
    chart.add(m);
  });
  store.watch(["history"], ({ history }) => chart.reset(history));
  store.watch(["status"], ({ status }) => {
    if (chart.diverged !== (status === "diverged")) {
      chart.diverged = status === "diverged";
      chart.draw();
    }
  });
  store.watch(["view", "config"], ({ view: v, config }) => {
    const classification = config.problem === "classification";
    document.querySelectorAll(".accuracy").forEach((e) => { e.hidden = !classification; });
    $("show-test").checked = v.showTest;
    $("discretize").checked = v.discretize;
    $("show-accuracy").checked = v.accuracy && classification;
    $("log-scale").checked = v.logScale;
    const accuracy = v.accuracy && classification;
    $("log-scale").disabled = accuracy; // accuracy is 0 to 1: no scale to choose
    if (chart.accuracy !== accuracy || chart.log !== v.logScale) {
      Object.assign(chart, { accuracy, log: v.logScale });
      chart.draw();
    }
  });
  store.watch(["frame", "hover", "view", "config", "points"], (state) => {
    if (state.frame && state.config && state.frame.grids.output) drawHeatmap(heatmap, state);
  });
  store.watch(["points", "view", "config", "extent"], ({ points, view: v, config, extent }) => {
    pointsLayer.clearRect(0, 0, pointsLayer.canvas.width, pointsLayer.canvas.height);
    if (!points) return;
    paintPoints(pointsLayer, points, extent, {
      showTest: v.showTest,
      regressionScale: config.problem === "regression" ? regressionScale(points) : 0,
    });
  });
  store.watch(["config", "nClasses", "points"], ({ config, nClasses, points }) => {
    showLegend({ bar: $("colorbar"), low: $("colorbar-low"), high: $("colorbar-high"),
      gradient: document.querySelector("#colorbar .gradient"), classes: $("class-legend"),
      text: $("colorbar-text") },
    outputKind(config), { nClasses, scale: regressionScale(points) });
  });
}
