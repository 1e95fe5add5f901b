// Overview: requests, errors, tokens and cost per hour or day (GET /admin/usage?group_by=hour|day)
// as Chart.js charts, the totals, p50/p95 latency and time to first token, and the top models,
// keys and users (group_by=model|key|user) over the same range.
(function () {
  "use strict";
  var D = Dashboard;
  var charts = {};
  var RANGES = {"24h": {group: "hour", count: 24}, "7d": {group: "day", count: 7},
                "30d": {group: "day", count: 30}};

  // Every bucket of the range, oldest first, labelled as the API labels them.
  function buckets(range) {
    var spec = RANGES[range], now = new Date(), out = [];
    if (spec.group === "hour") {
      var hour = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate(),
                          now.getUTCHours());
      for (var h = spec.count - 1; h >= 0; h--) {
        out.push(new Date(hour - h * 3600e3).toISOString().slice(0, 13) + ":00:00Z");
      }
    } else {
      var day = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
      for (var d = spec.count - 1; d >= 0; d--) {
        out.push(new Date(day - d * 864e5).toISOString().slice(0, 10));
      }
    }
    return out;
  }

  function series(labels, rows, pick) {
    var byGroup = {};
    rows.forEach(function (row) { byGroup[row.group] = row; });
    return labels.map(function (label) { return byGroup[label] ? pick(byGroup[label]) : 0; });
  }

  function short(label) {  // "2026-12-01T13:00:00Z" -> "12-01 13:00"; "2026-12-01" -> "12-01"
    return label.length > 10 ? label.slice(5, 10) + " " + label.slice(11, 16) : label.slice(5);
  }

  function draw(id, type, labels, datasets) {
    if (charts[id]) charts[id].destroy();
    charts[id] = new Chart(document.getElementById(id), {
      type: type,
      data: {labels: labels.map(short), datasets: datasets},
      options: {animation: false, responsive: true, maintainAspectRatio: false,
                interaction: {mode: "index", intersect: false},
                scales: {y: {beginAtZero: true, ticks: {precision: id === "chart-cost" ? 4 : 0}}},
                plugins: {legend: {position: "bottom"}}}
    });
  }

  function totals(t) {
    var set = function (name, value) {
      document.querySelector('[data-total="' + name + '"]').textContent = value;
    };
    set("requests", D.number(t.requests));
    set("errors", D.number(t.errors));
    set("tokens", D.number(t.input_tokens + t.output_tokens));
    set("cost", "$" + Number(t.cost_usd).toFixed(4));
  }

  // A top-10 table (#top-model, #top-key, #top-user) of report rows, highest cost first.
  function top(id, rows) {
    var body = document.querySelector("#" + id + " tbody");
    body.textContent = "";
    rows.slice(0, 10).forEach(function (row) {
      var tr = document.createElement("tr");
      tr.appendChild(D.el("td", row.group === null ? "(none)" : row.group));
      tr.appendChild(D.el("td", D.number(row.requests), "num"));
      tr.appendChild(D.el("td", D.number(row.errors), "num"));
      tr.appendChild(D.el("td", D.number(row.input_tokens + row.output_tokens), "num"));
      tr.appendChild(D.el("td", Number(row.cost_usd).toFixed(4), "num"));
      body.appendChild(tr);
    });
    if (!rows.length) {
      var empty = D.el("td", "No requests in this range.", "hint");
      empty.colSpan = 5;
      body.appendChild(document.createElement("tr")).appendChild(empty);
    }
  }

  function latency(figures) {
    Object.keys(figures).forEach(function (name) {
      var value = figures[name];
      document.querySelector('[data-latency="' + name + '"]').textContent =
        value === null ? "–" : D.number(Math.round(value)) + " ms";
    });
  }

  function load() {
    var range = document.getElementById("range").value;
    var labels = buckets(range);
    var since = encodeURIComponent(labels[0]);
    var base = "/admin/usage?since=" + since + "&group_by=";
    D.showError("");
    Promise.all([D.api("GET", base + RANGES[range].group), D.api("GET", base + "model"),
                 D.api("GET", base + "key"), D.api("GET", base + "user")])
      .then(function (answers) {
        var rows = answers[0].data;
        totals(answers[0].totals);
        latency(answers[0].latency);
        draw("chart-requests", "bar", labels, [
          {label: "requests", data: series(labels, rows, function (r) { return r.requests; }),
           backgroundColor: "#4e79a7"},
          {label: "errors", data: series(labels, rows, function (r) { return r.errors; }),
           backgroundColor: "#e15759"}]);
        draw("chart-tokens", "bar", labels, [
          {label: "input", data: series(labels, rows, function (r) { return r.input_tokens; }),
           backgroundColor: "#59a14f", stack: "tokens"},
          {label: "output", data: series(labels, rows, function (r) { return r.output_tokens; }),
           backgroundColor: "#f28e2b", stack: "tokens"}]);
        draw("chart-cost", "line", labels, [
          {label: "USD", data: series(labels, rows, function (r) { return Number(r.cost_usd); }),
           borderColor: "#b07aa1", backgroundColor: "#b07aa1"}]);
        top("top-model", answers[1].data);
        top("top-key", answers[2].data);
        top("top-user", answers[3].data);
      }, function (error) { D.showError(error.message); });
  }

  document.getElementById("range").addEventListener("change", load);
  D.charts = charts;
  load();
})();
