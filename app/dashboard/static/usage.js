// Usage: GET /admin/usage with a group-by, a date range (UTC days) and id filters, drawn as a
// chart (requests and errors per group, cost on a second axis) and a table; "Export CSV" saves
// exactly the rows of the table (the same answer), built in the browser.
(function () {
  "use strict";
  var D = Dashboard;
  var form = document.getElementById("report");
  var FILTERS = {"key-filter": "key_id", "user-filter": "user_id", "project-filter": "project_id"};
  var COLUMNS = ["group", "id", "requests", "errors", "input_tokens", "output_tokens",
                 "cached_tokens", "cost_usd"];
  var report = null;
  D.charts = D.charts || {};

  function day(offset) {
    return new Date(Date.now() + offset * 864e5).toISOString().slice(0, 10);
  }

  // The form starts from the page's query string (?key_id=…, as the key page links it).
  function prefill() {
    var params = new URLSearchParams(window.location.search);
    document.getElementById("since").value = params.get("since") || day(-29);
    document.getElementById("until").value = params.get("until") || day(0);
    if (params.get("group_by")) document.getElementById("group-by").value = params.get("group_by");
    Object.keys(FILTERS).forEach(function (id) {
      var input = document.getElementById(id);
      if (input && params.get(FILTERS[id])) input.value = params.get(FILTERS[id]);
    });
  }

  function query() {
    var params = new URLSearchParams({group_by: document.getElementById("group-by").value});
    ["since", "until"].forEach(function (name) {
      var value = document.getElementById(name).value;
      if (value) params.set(name, value);
    });
    Object.keys(FILTERS).forEach(function (id) {
      var input = document.getElementById(id);
      if (input && input.value) params.set(FILTERS[id], input.value);
    });
    return params;
  }

  function label(row) { return row.group === null ? "(none)" : row.group; }

  function table(rows) {
    var body = document.querySelector("#usage tbody");
    body.textContent = "";
    rows.forEach(function (row) {
      var tr = document.createElement("tr");
      tr.appendChild(D.el("td", label(row)));
      tr.appendChild(D.el("td", row.id === null ? "" : String(row.id)));
      COLUMNS.slice(2, 7).forEach(function (name) {
        tr.appendChild(D.el("td", String(row[name]), "num"));
      });
      tr.appendChild(D.el("td", row.cost_usd, "num"));
      body.appendChild(tr);
    });
    var t = report.totals;
    document.querySelector('[data-total="requests"]').textContent = D.number(t.requests);
    document.querySelector('[data-total="errors"]').textContent = D.number(t.errors);
    document.querySelector('[data-total="tokens"]').textContent =
      D.number(t.input_tokens + t.output_tokens);
    document.querySelector('[data-total="cost"]').textContent = "$" + Number(t.cost_usd).toFixed(4);
  }

  function chart(rows) {
    if (D.charts["chart-usage"]) D.charts["chart-usage"].destroy();
    var pick = function (name) { return rows.map(function (r) { return Number(r[name]); }); };
    D.charts["chart-usage"] = new Chart(document.getElementById("chart-usage"), {
      type: "bar",
      data: {labels: rows.map(label), datasets: [
        {label: "requests", data: pick("requests"), backgroundColor: "#4e79a7", yAxisID: "y"},
        {label: "errors", data: pick("errors"), backgroundColor: "#e15759", yAxisID: "y"},
        {label: "cost (USD)", data: pick("cost_usd"), type: "line", borderColor: "#b07aa1",
         backgroundColor: "#b07aa1", yAxisID: "cost"}]},
      options: {animation: false, responsive: true, maintainAspectRatio: false,
                interaction: {mode: "index", intersect: false},
                scales: {y: {beginAtZero: true, ticks: {precision: 0}},
                         cost: {beginAtZero: true, position: "right",
                                grid: {drawOnChartArea: false}}},
                plugins: {legend: {position: "bottom"}}}
    });
  }

  function load() {
    D.showError("");
    var params = query();
    history.replaceState(null, "", "?" + params.toString());
    return D.api("GET", "/admin/usage?" + params.toString()).then(function (answer) {
      report = answer;
      var rows = answer.data.slice();
      if (answer.group_by === "day" || answer.group_by === "hour") {
        rows.sort(function (a, b) { return a.group < b.group ? -1 : 1; });
      }
      report.rows = rows;
      table(rows);
      chart(rows);
    }, function (error) { D.showError(error.message); });
  }

  function csvCell(value) {
    var text = value === null || value === undefined ? "" : String(value);
    if (/^[=+@]/.test(text)) text = "'" + text;  // never a formula in a spreadsheet
    return /[",\n\r]/.test(text) ? '"' + text.replace(/"/g, '""') + '"' : text;
  }

  document.getElementById("export").addEventListener("click", function () {
    if (!report) return;
    var lines = [COLUMNS.join(",")].concat(report.rows.map(function (row) {
      return COLUMNS.map(function (name) {
        return csvCell(name === "group" ? label(row) : row[name]);
      }).join(",");
    }));
    var blob = new Blob([lines.join("\r\n") + "\r\n"], {type: "text/csv"});
    var link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = "usage-" + report.group_by + "-" + (report.since || "").slice(0, 10) + ".csv";
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(function () { URL.revokeObjectURL(link.href); }, 1000);
  });

  form.addEventListener("submit", function (event) { event.preventDefault(); load(); });
  document.getElementById("group-by").addEventListener("change", load);
  prefill();
  load();
})();
