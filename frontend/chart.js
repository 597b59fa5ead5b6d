// The loss (or accuracy) curve on one canvas, redrawn only when a new epoch arrives. The
// canvas has as many pixels as its box on the screen: stretched, it was blurred, and the
// browser painted it anew at every frame instead of handing it to the compositor as it is.

export class Chart {
  constructor(canvas) {
    this.canvas = canvas;
    this.ctx = canvas.getContext("2d");
    this.rows = [];
    this.accuracy = false;
    this.size = { w: canvas.width, h: canvas.height }; // CSS pixels
    new ResizeObserver(() => this.fit()).observe(canvas);
  }

  fit() {
    const ratio = Math.min(2, window.devicePixelRatio || 1);
    const w = this.canvas.clientWidth, h = this.canvas.clientHeight;
    if (!w || !h) return;
    this.size = { w, h };
    this.canvas.width = Math.round(w * ratio);
    this.canvas.height = Math.round(h * ratio);
    this.ctx.setTransform(this.canvas.width / w, 0, 0, this.canvas.height / h, 0, 0);
    this.draw();
  }

  reset(rows) { this.rows = rows.slice(); this.draw(); }

  add(row) {
    const last = this.rows[this.rows.length - 1];
    if (last && row.epoch <= last.epoch) return;
    this.rows.push(row);
    if (this.rows.length > 6000) this.rows = this.rows.filter((_, i) => i % 2 === 0);
    this.draw();
  }

  draw() {
    const { ctx, size: { w, h } } = this;
    ctx.clearRect(0, 0, w, h);
    const keys = this.accuracy ? ["train_accuracy", "test_accuracy"] : ["train_loss", "test_loss"];
    const rows = this.rows.filter((r) => Number.isFinite(r[keys[0]]));
    if (rows.length < 2) return;
    let hi = -Infinity, lo = Infinity;
    for (const r of rows) for (const k of keys) {
      if (Number.isFinite(r[k])) { hi = Math.max(hi, r[k]); lo = Math.min(lo, r[k]); }
    }
    if (this.accuracy) { lo = Math.min(lo, 0.5); hi = 1; } else { lo = 0; }
    const span = hi - lo || 1;
    const e0 = rows[0].epoch, e1 = rows[rows.length - 1].epoch || 1;
    const x = (e) => ((e - e0) / (e1 - e0 || 1)) * (w - 2) + 1;
    const y = (v) => h - 2 - ((v - lo) / span) * (h - 4);
    [["#999999", keys[0]], ["#222222", keys[1]]].forEach(([color, key]) => {
      ctx.strokeStyle = color;
      ctx.lineWidth = 1.5;
      ctx.beginPath();
      rows.forEach((r, i) => {
        const v = r[key];
        if (!Number.isFinite(v)) return;
        if (i === 0) ctx.moveTo(x(r.epoch), y(v)); else ctx.lineTo(x(r.epoch), y(v));
      });
      ctx.stroke();
    });
  }
}
