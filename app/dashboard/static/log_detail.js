// One request (GET /admin/logs/<request_id>): what the client asked, what it cost, and every
// upstream attempt the gateway made for it.
(function () {
  "use strict";
  var D = Dashboard;
  var detail = document.getElementById("detail");
  var id = detail.dataset.requestId;

  function ms(value) { return value === null || value === undefined ? "–" : D.number(value) + " ms"; }

  function fact(term, value, name) {
    var list = document.getElementById("facts");
    list.appendChild(D.el("dt", term));
    var dd = D.el("dd", value === null || value === undefined || value === "" ? "–" : String(value));
    if (name) dd.dataset.fact = name;
    list.appendChild(dd);
  }

  function show(row) {
    fact("Time (UTC)", D.when(row.created_at), "time");
    fact("Status", row.status_code + (row.error_type ? " " + row.error_type : ""), "status");
    fact("Client request id", row.client_request_id, "client_request_id");
    fact("Model", row.model, "model");
    fact("Answered by", row.deployment, "deployment");
    fact("Surface", row.surface + " " + row.endpoint + (row.stream ? " (stream)" : ""), "surface");
    fact("Key", row.api_key_id === null ? null : "#" + row.api_key_id, "key");
    fact("User id", row.user_id, "user_id");
    fact("Project id", row.project_id, "project_id");
    fact("Tokens", "in " + D.number(row.input_tokens) + " · out " + D.number(row.output_tokens) +
         " · cached " + D.number(row.cached_tokens) + " · cache write " +
         D.number(row.cache_write_tokens), "tokens");
    fact("Cost (USD)", row.cost_usd === null ? null :  // "0.0125000000" as $0.0125
         "$" + row.cost_usd.replace(/(\.\d*?)0+$/, "$1").replace(/\.$/, ""), "cost");
    fact("Latency", ms(row.latency_ms), "latency");
    fact("Time to first token", ms(row.time_to_first_token_ms), "ttft");
    if (row.error_message) {
      var message = document.getElementById("error-message");
      message.textContent = row.error_message;
      message.hidden = false;
    }
    var body = document.querySelector("#attempts tbody");
    row.attempts.forEach(function (attempt, index) {
      var tr = document.createElement("tr");
      tr.appendChild(D.el("td", String(index + 1)));
      tr.appendChild(D.el("td", attempt.deployment || "–", "mono"));
      tr.appendChild(D.el("td", attempt.key === null || attempt.key === undefined ? "–" : "#" + attempt.key));
      var status = attempt.status === null || attempt.status === undefined ? "–" : String(attempt.status);
      tr.appendChild(D.el("td", status, "status s" + status[0] + "xx"));
      tr.appendChild(D.el("td", ms(attempt.latency_ms), "num"));
      tr.appendChild(D.el("td", attempt.error || ""));
      body.appendChild(tr);
    });
    document.getElementById("no-attempts").hidden = row.attempts.length > 0;
    detail.hidden = false;
    if (row.api_key_id !== null) keyOf(row.api_key_id);
    document.getElementById("attempts-card").hidden = false;
  }

  // The key's prefix, name and owner in place of its id, and a link to its other requests.
  function keyOf(keyId) {
    D.api("GET", "/admin/keys/" + keyId).then(function (key) {
      var dd = document.querySelector('[data-fact="key"]');
      var link = D.el("a", key.prefix + "…" + (key.name ? " " + key.name : "") +
                      (key.user_email ? " · " + key.user_email : ""));
      link.href = "/dashboard/logs?key_id=" + keyId;
      link.title = "This key's requests";
      dd.textContent = "";
      dd.appendChild(link);
    }, function () {});
  }

  D.api("GET", "/admin/logs/" + encodeURIComponent(id)).then(show, function (error) {
    D.showError(error.status === 404 ? "No request " + id + " that you may see." : error.message);
  });
})();
