// Models (GET /admin/models, admins only): each model's deployments with their circuit, their
// provider keys' cooldowns and the last hour's requests, error rate and p50/p95 latency.
(function () {
  "use strict";
  var D = Dashboard;

  function rate(value) { return value === null || value === undefined ? "–" : (value * 100).toFixed(1) + "%"; }
  function ms(value) { return value === null || value === undefined ? "–" : D.number(value) + " ms"; }
  function seconds(value) { return Math.ceil(value) + " s"; }

  function circuit(deployment) {
    var state = deployment.circuit.state;
    var td = D.el("td", null);
    var badge = D.el("span", state.replace("_", "-"), "circuit " + state);
    td.appendChild(badge);
    if (state === "open" && deployment.circuit.retry_in_seconds) {
      td.appendChild(D.el("span", " probe in " + seconds(deployment.circuit.retry_in_seconds), "hint"));
    }
    return td;
  }

  function cooldowns(keys) {
    var td = D.el("td", null, "keys");
    if (!keys.length) td.textContent = "–";
    keys.forEach(function (key) {
      var text = "#" + key.index + " " + key.state.replace("_", " ") +
        (key.state === "ok" ? "" : " (" + seconds(key.cooldown_seconds) + ")");
      td.appendChild(D.el("span", text, "key-state " + key.state));
    });
    return td;
  }

  function figures(tr, item) {
    tr.appendChild(D.el("td", D.number(item.requests), "num"));
    tr.appendChild(D.el("td", rate(item.error_rate), "num"));
    tr.appendChild(D.el("td", ms(item.p50_latency_ms), "num"));
    tr.appendChild(D.el("td", ms(item.p95_latency_ms), "num"));
  }

  function card(model) {
    var section = D.el("section", null, "card model");
    section.dataset.model = model.name;
    var head = D.el("div", null, "model-head");
    head.appendChild(D.el("h2", model.name));
    head.appendChild(D.el("span", model.strategy + (model.fallbacks.length ?
      " · falls back to " + model.fallbacks.join(", ") : ""), "hint"));
    head.appendChild(D.el("span", D.number(model.requests) + " requests · " + rate(model.error_rate) +
      " errors · p50 " + ms(model.p50_latency_ms) + " · p95 " + ms(model.p95_latency_ms), "hint"));
    section.appendChild(head);
    var table = D.el("table", null, "deployments");
    table.innerHTML = "<thead><tr><th>Deployment</th><th class=\"num\">Weight</th>" +
      "<th class=\"num\">Priority</th><th>Circuit</th><th>Provider keys</th>" +
      "<th class=\"num\">Requests</th><th class=\"num\">Error rate</th>" +
      "<th class=\"num\">p50</th><th class=\"num\">p95</th></tr></thead><tbody></tbody>";
    model.deployments.forEach(function (deployment) {
      var tr = document.createElement("tr");
      tr.dataset.deployment = deployment.id;
      tr.appendChild(D.el("td", deployment.id, "mono"));
      tr.appendChild(D.el("td", String(deployment.weight), "num"));
      tr.appendChild(D.el("td", String(deployment.priority), "num"));
      tr.appendChild(circuit(deployment));
      tr.appendChild(cooldowns(deployment.keys));
      figures(tr, deployment);
      table.tBodies[0].appendChild(tr);
    });
    section.appendChild(table);
    return section;
  }

  function load() {
    D.showError("");
    return D.api("GET", "/admin/models").then(function (page) {
      var box = document.getElementById("models");
      box.textContent = "";
      page.data.forEach(function (model) { box.appendChild(card(model)); });
      document.getElementById("window").textContent = "Since " + D.when(page.since);
    }, function (error) { D.showError(error.message); });
  }

  document.getElementById("refresh").addEventListener("click", load);
  load();
})();
