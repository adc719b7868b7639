// jackstop dashboard: spend charts (uPlot) that follow the hour/day toggle and the page's live
// refresh. Everything else is server-rendered HTML driven by htmx. No inline script anywhere (CSP).
(function () {
  "use strict";
  var charts = new Map();
  var SEVERITY = { critical: "--bad", warning: "--warn", info: "--muted" };

  function color(name) {
    return getComputedStyle(document.body).getPropertyValue(name).trim() || "#888";
  }

  function markEvents(events) {
    return function (u) {
      var ctx = u.ctx, top = u.bbox.top, bottom = u.bbox.top + u.bbox.height;
      ctx.save();
      ctx.lineWidth = 2 * (window.devicePixelRatio || 1);
      events.forEach(function (ev) {
        var x = u.valToPos(ev[0], "x", true);
        if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) return;
        ctx.strokeStyle = color(SEVERITY[ev[1]] || "--warn");
        ctx.beginPath(); ctx.moveTo(x, top); ctx.lineTo(x, bottom); ctx.stroke();
      });
      ctx.restore();
    };
  }

  function money(v) {
    if (v === 0) return "$0";
    var a = Math.abs(v);
    return "$" + (a >= 1 ? v.toFixed(2) : v.toPrecision(2));
  }

  function draw(el, data) {
    var old = charts.get(el);
    if (old) old.destroy();
    var events = data.events || [];
    var axis = { stroke: color("--fg"), grid: { stroke: color("--grid") }, ticks: { stroke: color("--grid") } };
    var opts = {
      width: Math.max(260, el.clientWidth),
      height: 220,
      scales: { x: { time: true } },
      legend: { show: false },
      series: [{}, { label: "spend USD", stroke: color("--accent"), fill: color("--accent-fill"), width: 2 }],
      axes: [axis, Object.assign({}, axis, { size: 92, values: function (u, vals) { return vals.map(money); } })],
      hooks: { draw: [markEvents(events)] }
    };
    charts.set(el, new uPlot(opts, [data.x, data.spend], el));
    var total = data.spend.reduce(function (a, b) { return a + b; }, 0);
    el.dataset.points = String(data.x.length);
    el.dataset.events = String(events.length);
    el.setAttribute("aria-label", el.dataset.title + ": $" + total.toFixed(4) + " over " + data.x.length +
      " " + data.step + "s" + (events.length ? ", " + events.length + " detector event(s) marked" : ""));
  }

  function load(box) {
    var el = box.querySelector(".chart");
    var step = box.dataset.step || "hour";
    var src = el.dataset.src;
    var url = src + (src.indexOf("?") >= 0 ? "&" : "?") + "step=" + encodeURIComponent(step);
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) { if (data) draw(el, data); })
      .catch(function () { /* the next refresh tries again */ });
  }

  function boxes() { return Array.prototype.slice.call(document.querySelectorAll(".chart-box")); }

  document.addEventListener("DOMContentLoaded", function () {
    boxes().forEach(function (box) {
      var el = box.querySelector(".chart");
      el.dataset.title = el.getAttribute("aria-label") || "chart";
      box.querySelectorAll("button.step").forEach(function (btn) {
        btn.addEventListener("click", function () {
          box.dataset.step = btn.dataset.step;
          box.querySelectorAll("button.step").forEach(function (b) {
            b.setAttribute("aria-pressed", String(b === btn));
          });
          load(box);
        });
      });
      load(box);
    });
    document.body.addEventListener("jackstop-changed", function () { boxes().forEach(load); });
    var resizing = null;
    window.addEventListener("resize", function () {
      clearTimeout(resizing);
      resizing = setTimeout(function () {
        charts.forEach(function (u, el) { u.setSize({ width: Math.max(260, el.clientWidth), height: 220 }); });
      }, 150);
    });
  });
})();
