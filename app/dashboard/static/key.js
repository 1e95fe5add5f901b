// A key's page: its facts, a form changing its limits, expiry and project (PATCH, only the
// fields changed: the API decides what a member may change and its refusal is shown as is),
// revoke, rotate (the new secret shown once) and its budget burn-down from /admin/usage.
(function () {
  "use strict";
  var D = Dashboard;
  var id = document.getElementById("key-page").dataset.keyId;
  var form = document.getElementById("key-form");
  var DURATION = /^[0-9]{1,6}[mhdw]$/;
  D.charts = D.charts || {};

  function facts(key) {
    document.getElementById("key-title").textContent = key.prefix + "…";
    var shown = {name: key.name || "–", user_email: key.user_email || "–", state: key.state,
                 project_id: key.project_id === null ? "–" : String(key.project_id),
                 limits: Limits.summary(key), created_at: D.when(key.created_at),
                 last_used_at: D.when(key.last_used_at), expires_at: D.when(key.expires_at)};
    Object.keys(shown).forEach(function (name) {
      document.querySelector('[data-fact="' + name + '"]').textContent = shown[name];
    });
    document.querySelector('[data-fact="state"]').className = "state " + key.state;
    var live = key.state !== "revoked";
    form.querySelector("button[type=submit]").disabled = !live;
    document.getElementById("rotate").disabled = !live;
    document.getElementById("revoke").disabled = !live;
  }

  function load() {
    return D.api("GET", "/admin/keys/" + id).then(function (key) {
      facts(key);
      Limits.fill(form, key);
      burnDown(key);
      return key;
    }, function (error) { D.showError(error.message); });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    D.showError("");
    document.getElementById("saved").hidden = true;
    var body = Limits.changes(form);
    if ("expires_at" in body && body.expires_at !== null && DURATION.test(body.expires_at)) {
      body.expires_in = body.expires_at;
      delete body.expires_at;
    }
    if (!Object.keys(body).length) return;
    D.api("PATCH", "/admin/keys/" + id, body).then(function () {
      document.getElementById("saved").hidden = false;
      return load();
    }, function (error) { D.showError(error.message); });
  });

  document.getElementById("revoke").addEventListener("click", function () {
    if (!window.confirm("Revoke this key? Clients using it stop working.")) return;
    D.api("POST", "/admin/keys/" + id + "/revoke").then(load, function (error) {
      D.showError(error.message);
    });
  });

  document.getElementById("rotate").addEventListener("click", function () {
    if (!window.confirm("Rotate this key? The current secret stops working now.")) return;
    D.api("POST", "/admin/keys/" + id + "/rotate").then(function (key) {
      document.getElementById("secret").textContent = key.key;
      document.getElementById("new-key-link").href = "/dashboard/keys/" + key.id;
      document.getElementById("secret-box").hidden = false;
      return load();
    }, function (error) { D.showError(error.message); });
  });

  document.getElementById("copy").addEventListener("click", function () {
    var secret = document.getElementById("secret").textContent;
    var done = function () { document.getElementById("copied").hidden = false; };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(secret).then(done, function () {});
    }
  });

  // The budget window (UTC) and its buckets: a daily budget per hour, a weekly or monthly one
  // per day, a lifetime budget per day since the key was created; no budget: the last 30 days.
  function windowOf(key) {
    var now = new Date();
    var day = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate());
    var start, end, group = "day";
    if (key.budget_period === "daily") {
      start = day; end = day + 864e5; group = "hour";
    } else if (key.budget_period === "weekly") {
      start = day - ((now.getUTCDay() + 6) % 7) * 864e5; end = start + 7 * 864e5;
    } else if (key.budget_period === "monthly") {
      start = Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1);
      end = Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + 1, 1);
    } else if (key.max_budget_usd !== null) {  // a lifetime budget: since the key was made
      start = Date.parse(key.created_at.slice(0, 10) + "T00:00:00Z"); end = day + 864e5;
    } else {
      start = day - 29 * 864e5; end = day + 864e5;
    }
    var step = group === "hour" ? 3600e3 : 864e5, labels = [];
    for (var t = start; t < end; t += step) {
      var iso = new Date(t).toISOString();
      labels.push(group === "hour" ? iso.slice(0, 13) + ":00:00Z" : iso.slice(0, 10));
    }
    return {start: new Date(start).toISOString().slice(0, 19) + "Z", group: group,
            labels: labels, now: now.getTime(), step: step, first: start};
  }

  function burnDown(key) {
    var w = windowOf(key);
    var url = "/admin/usage?key_id=" + key.id + "&group_by=" + w.group + "&since=" +
      encodeURIComponent(w.start);
    D.api("GET", url).then(function (report) {
      var cost = {};
      report.data.forEach(function (row) { cost[row.group] = Number(row.cost_usd); });
      var total = 0;
      var spent = w.labels.map(function (label, i) {
        if (w.first + i * w.step > w.now) return null;  // the rest of the window is ahead
        total += cost[label] || 0;
        return Number(total.toFixed(6));
      });
      var budget = key.max_budget_usd === null ? null : Number(key.max_budget_usd);
      var datasets = [{label: "spent (USD)", data: spent, borderColor: "#e15759",
                       backgroundColor: "#e15759", spanGaps: false}];
      if (budget !== null) {
        datasets.push({label: "budget (USD)", data: w.labels.map(function () { return budget; }),
                       borderColor: "#4e79a7", borderDash: [6, 4], pointRadius: 0});
      }
      var period = {daily: "today (UTC)", weekly: "this week (UTC, from Monday)",
                    monthly: "this month (UTC)"}[key.budget_period] ||
        (budget === null ? "in the last 30 days" : "since this key was created");
      document.getElementById("burn-summary").textContent = "Spent $" +
        Number(report.totals.cost_usd).toFixed(4) + " " + period +
        (budget === null ? "; no budget." : " of a $" + key.max_budget_usd + " " +
         (key.budget_period || "lifetime") + " budget.");
      draw(w.labels, datasets);
    }, function (error) { D.showError(error.message); });
  }

  function draw(labels, datasets) {
    if (D.charts["chart-burn"]) D.charts["chart-burn"].destroy();
    D.charts["chart-burn"] = new Chart(document.getElementById("chart-burn"), {
      type: "line",
      data: {labels: labels.map(function (l) { return l.length > 10 ? l.slice(11, 16) : l.slice(5); }),
             datasets: datasets},
      options: {animation: false, responsive: true, maintainAspectRatio: false,
                scales: {y: {beginAtZero: true}}, plugins: {legend: {position: "bottom"}}}
    });
  }

  load();
})();
