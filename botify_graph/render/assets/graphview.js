/* The interactive link graph view (render/graphview.py writes it into a self-contained page).
 *
 * Reads the JSON in <script id="graph-data">: nodes {url, group, r, inbound, impressions, value (the column
 * pages are sized by, when not inbound links)}, links as flat (source, target) index pairs, groups
 * [{label, color, pages}] and words {inbound, impressions, value}.
 *
 * A small force layout drawn on a canvas. Positions start on a sunflower spiral (most-linked pages in the
 * middle); each tick applies springs along links (stiffness 1 / smaller degree, the lighter end moves more),
 * repulsion between pages closer than CELL (found through a uniform grid, so a tick is ~linear), and a weak
 * pull to the centre; velocities decay and the temperature `alpha` cools until the layout stops.
 */
(function () {
  "use strict";
  var D = JSON.parse(document.getElementById("graph-data").textContent);
  var U = D.nodes.url, G = D.nodes.group, R = D.nodes.r, IN = D.nodes.inbound, IMP = D.nodes.impressions;
  var VAL = D.nodes.value, VALNAME = D.words.value;
  var N = U.length, L = D.links, M = L.length / 2;
  var canvas = document.getElementById("view"), ctx = canvas.getContext("2d"), tip = document.getElementById("tip");
  var x = new Float64Array(N), y = new Float64Array(N), vx = new Float64Array(N), vy = new Float64Array(N);
  var deg = new Float64Array(N), i, k;
  for (k = 0; k < M; k++) { deg[L[2 * k]]++; deg[L[2 * k + 1]]++; }
  for (i = 0; i < N; i++) {
    var rr = 9 * Math.sqrt(i + 0.5), a = i * 2.39996;
    x[i] = rr * Math.cos(a); y[i] = rr * Math.sin(a);
  }
  var CELL = 48, REST = 36, CHARGE = 80, GRAVITY = 0.015;
  var alpha = 1, running = N > 0, view = { k: 1, tx: 0, ty: 0 }, moved = false, hover = -1, pinned = false;
  var W = 0, H = 0, dpr = window.devicePixelRatio || 1, queued = false;

  function tick() {
    var s, t, dx, dy, d, f, w;
    for (k = 0; k < M; k++) {
      s = L[2 * k]; t = L[2 * k + 1];
      dx = x[t] + vx[t] - x[s] - vx[s]; dy = y[t] + vy[t] - y[s] - vy[s];
      d = Math.sqrt(dx * dx + dy * dy) || 0.01;
      f = (d - REST) / d * alpha * 0.6 / Math.max(1, Math.min(deg[s], deg[t]));
      dx *= f; dy *= f; w = deg[s] / (deg[s] + deg[t]);
      vx[t] -= dx * w; vy[t] -= dy * w; vx[s] += dx * (1 - w); vy[s] += dy * (1 - w);
    }
    var cells = new Map(), cx, cy, key, list, j, d2, n2, ox, oy;
    for (i = 0; i < N; i++) {
      key = Math.floor(x[i] / CELL) * 1048576 + Math.floor(y[i] / CELL);
      list = cells.get(key); if (list) list.push(i); else cells.set(key, [i]);
    }
    for (i = 0; i < N; i++) {
      cx = Math.floor(x[i] / CELL); cy = Math.floor(y[i] / CELL);
      for (ox = -1; ox <= 1; ox++) for (oy = -1; oy <= 1; oy++) {
        list = cells.get((cx + ox) * 1048576 + cy + oy); if (!list) continue;
        for (n2 = 0; n2 < list.length; n2++) {
          j = list[n2]; if (j <= i) continue;
          dx = x[j] - x[i]; dy = y[j] - y[i]; d2 = dx * dx + dy * dy;
          if (d2 > CELL * CELL) continue;
          if (d2 < 1) { dx = (i % 7) - 3 + 0.5; dy = (j % 5) - 2 + 0.5; d2 = dx * dx + dy * dy; }
          f = CHARGE * alpha / d2;
          vx[i] -= dx * f; vy[i] -= dy * f; vx[j] += dx * f; vy[j] += dy * f;
        }
      }
    }
    for (i = 0; i < N; i++) {
      vx[i] = (vx[i] - x[i] * GRAVITY * alpha) * 0.6; vy[i] = (vy[i] - y[i] * GRAVITY * alpha) * 0.6;
      x[i] += vx[i]; y[i] += vy[i];
    }
    alpha *= 0.985;
    if (alpha < 0.004) running = false;
  }

  function fit() {
    if (!N) return;
    var x0 = Infinity, x1 = -Infinity, y0 = Infinity, y1 = -Infinity;
    for (i = 0; i < N; i++) {
      x0 = Math.min(x0, x[i]); x1 = Math.max(x1, x[i]); y0 = Math.min(y0, y[i]); y1 = Math.max(y1, y[i]);
    }
    var kk = Math.min((W - 30) / Math.max(x1 - x0, 1), (H - 30) / Math.max(y1 - y0, 1), 4);
    view.k = kk; view.tx = W / 2 - kk * (x0 + x1) / 2; view.ty = H / 2 - kk * (y0 + y1) / 2;
  }

  function draw() {
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, W, H);
    ctx.setTransform(dpr * view.k, 0, 0, dpr * view.k, dpr * view.tx, dpr * view.ty);
    var s, t, g;
    ctx.lineWidth = 0.7 / view.k; ctx.strokeStyle = "rgba(110,120,130,0.22)"; ctx.beginPath();
    for (k = 0; k < M; k++) { s = L[2 * k]; t = L[2 * k + 1]; ctx.moveTo(x[s], y[s]); ctx.lineTo(x[t], y[t]); }
    ctx.stroke();
    if (hover >= 0) {
      ctx.lineWidth = 1.4 / view.k; ctx.strokeStyle = "rgba(20,20,20,0.75)"; ctx.beginPath();
      for (k = 0; k < M; k++) {
        s = L[2 * k]; t = L[2 * k + 1];
        if (s === hover || t === hover) { ctx.moveTo(x[s], y[s]); ctx.lineTo(x[t], y[t]); }
      }
      ctx.stroke();
    }
    for (g = 0; g < D.groups.length; g++) {
      ctx.fillStyle = D.groups[g].color; ctx.beginPath();
      for (i = 0; i < N; i++) {
        if (G[i] !== g) continue;
        var r = R[i] / view.k; ctx.moveTo(x[i] + r, y[i]); ctx.arc(x[i], y[i], r, 0, 2 * Math.PI);
      }
      ctx.fill();
    }
    if (hover >= 0) {
      ctx.lineWidth = 2 / view.k; ctx.strokeStyle = "#111"; ctx.beginPath();
      ctx.arc(x[hover], y[hover], (R[hover] + 2) / view.k, 0, 2 * Math.PI); ctx.stroke();
    }
  }

  function frame() {
    queued = false;
    if (!W || !H) return;  // not laid out yet (hidden): resize() schedules again
    if (running) { tick(); if (N < 1500) tick(); if (!moved) fit(); }
    draw();
    if (running) schedule();
  }
  function schedule() { if (!queued) { queued = true; window.requestAnimationFrame(frame); } }

  function resize() {
    W = canvas.clientWidth; H = canvas.clientHeight;
    canvas.width = Math.round(W * dpr); canvas.height = Math.round(H * dpr);
    if (!moved) fit();
    schedule();
  }

  function nearest(mx, my) {
    var best = -1, bd = Infinity, sx, sy, dd;
    for (i = 0; i < N; i++) {
      sx = x[i] * view.k + view.tx - mx; sy = y[i] * view.k + view.ty - my; dd = sx * sx + sy * sy;
      if (dd < bd && dd <= (R[i] + 4) * (R[i] + 4)) { bd = dd; best = i; }
    }
    return best;
  }

  function showTip(n, mx, my) {
    if (n < 0) { tip.style.display = "none"; return; }
    var lines = [U[n], D.groups[G[n]].label + " · " + IN[n].toLocaleString() + " " + D.words.inbound];
    if (IMP && IMP[n] !== null) lines.push(IMP[n].toLocaleString() + " " + D.words.impressions);
    if (VAL && VAL[n] !== null && VALNAME !== D.words.impressions) {
      lines.push(VALNAME + ": " + VAL[n].toLocaleString());
    }
    tip.textContent = "";
    lines.forEach(function (text, n2) {
      var el = document.createElement(n2 ? "div" : "b"); el.textContent = text; tip.appendChild(el);
    });
    tip.style.display = "block";
    tip.style.left = Math.min(mx + 12, Math.max(0, W - tip.offsetWidth - 4)) + "px";
    tip.style.top = (my + 14 + tip.offsetHeight > H ? my - tip.offsetHeight - 8 : my + 14) + "px";
  }

  var drag = null;
  canvas.addEventListener("mousedown", function (e) {
    drag = { x: e.offsetX, y: e.offsetY, tx: view.tx, ty: view.ty, far: false }; canvas.style.cursor = "grabbing";
  });
  window.addEventListener("mouseup", function (e) {
    if (drag && !drag.far) {
      pinned = hover >= 0 && !pinned;
      if (!pinned) showTip(nearest(e.offsetX, e.offsetY), e.offsetX, e.offsetY);
    }
    drag = null; canvas.style.cursor = "grab";
  });
  canvas.addEventListener("mousemove", function (e) {
    if (drag) {
      var dx = e.offsetX - drag.x, dy = e.offsetY - drag.y;
      if (Math.abs(dx) + Math.abs(dy) > 3) { drag.far = true; moved = true; }
      if (drag.far) { view.tx = drag.tx + dx; view.ty = drag.ty + dy; schedule(); return; }
    }
    if (pinned) return;
    var n = nearest(e.offsetX, e.offsetY);
    if (n !== hover) { hover = n; schedule(); }
    showTip(n, e.offsetX, e.offsetY);
  });
  canvas.addEventListener("mouseleave", function () { if (!pinned) { hover = -1; showTip(-1); schedule(); } });
  canvas.addEventListener("wheel", function (e) {
    e.preventDefault();
    var f = Math.exp(-e.deltaY * 0.0015), kk = Math.max(0.02, Math.min(50, view.k * f));
    view.tx = e.offsetX - (e.offsetX - view.tx) * kk / view.k;
    view.ty = e.offsetY - (e.offsetY - view.ty) * kk / view.k;
    view.k = kk; moved = true; schedule();
  }, { passive: false });
  canvas.addEventListener("dblclick", function () { moved = false; fit(); schedule(); });
  window.addEventListener("resize", resize);
  if (window.ResizeObserver) new ResizeObserver(resize).observe(canvas);  // e.g. shown after a hidden tab
  resize();
})();
