// Keys: list (state/user filters from the API, a search over the loaded page), create (the
// secret shown once, with a copy button), revoke.
(function () {
  "use strict";
  var D = Dashboard;
  var isAdmin = document.body.dataset.role === "admin";
  var rows = [];
  var total = 0;

  function query() {
    var params = new URLSearchParams({limit: "500"});
    var state = document.getElementById("state").value;
    if (state) params.set("state", state);
    var user = document.getElementById("user-filter");
    if (user && user.value) params.set("user_id", user.value);
    return "/admin/keys?" + params.toString();
  }

  function render() {
    var needle = document.getElementById("search").value.trim().toLowerCase();
    var body = document.querySelector("#keys tbody");
    body.textContent = "";
    var shown = rows.filter(function (key) {
      return !needle || (key.name || "").toLowerCase().indexOf(needle) >= 0 ||
        key.prefix.toLowerCase().indexOf(needle) >= 0;
    });
    shown.forEach(function (key) {
      var tr = document.createElement("tr");
      tr.dataset.keyId = key.id;
      var link = D.el("a", key.prefix + "…");
      link.href = "/dashboard/keys/" + key.id;
      tr.appendChild(D.el("td", null, "mono")).appendChild(link);
      tr.appendChild(D.el("td", key.name || ""));
      if (isAdmin) tr.appendChild(D.el("td", key.user_email || ""));
      tr.appendChild(D.el("td", key.state, "state " + key.state));
      tr.appendChild(D.el("td", D.when(key.created_at)));
      tr.appendChild(D.el("td", D.when(key.last_used_at)));
      tr.appendChild(D.el("td", D.when(key.expires_at)));
      var actions = D.el("td");
      if (key.state !== "revoked") {
        var button = D.el("button", "Revoke", "danger revoke");
        button.type = "button";
        button.addEventListener("click", function () { revoke(key); });
        actions.appendChild(button);
      }
      tr.appendChild(actions);
      body.appendChild(tr);
    });
    document.getElementById("count").textContent =
      shown.length + " of " + total + " key" + (total === 1 ? "" : "s") +
      (total > rows.length ? " (the first " + rows.length + " loaded: filter to see others)" : "");
  }

  function load() {
    return D.api("GET", query()).then(function (page) {
      rows = page.data;
      total = page.total;
      render();
    }, function (error) { D.showError(error.message); });
  }

  function revoke(key) {
    if (!window.confirm("Revoke " + key.prefix + "…" + (key.name ? " (" + key.name + ")" : "") +
                        "? Clients using it stop working.")) return;
    D.api("POST", "/admin/keys/" + key.id + "/revoke").then(load, function (error) {
      D.showError(error.message);
    });
  }

  document.getElementById("create").addEventListener("submit", function (event) {
    event.preventDefault();
    D.showError("");
    var body = {};
    var name = document.getElementById("new-name").value.trim();
    if (name) body.name = name;
    var user = document.getElementById("new-user");
    if (user && user.value.trim()) body.user_email = user.value.trim();
    var expires = document.getElementById("new-expires").value.trim();
    if (expires) body.expires_in = expires;
    D.api("POST", "/admin/keys", body).then(function (key) {
      document.getElementById("secret").textContent = key.key;
      document.getElementById("copied").hidden = true;
      document.getElementById("secret-box").hidden = false;
      event.target.reset();
      return load();
    }, function (error) { D.showError(error.message); });
  });

  document.getElementById("copy").addEventListener("click", function () {
    var secret = document.getElementById("secret").textContent;
    var done = function () { document.getElementById("copied").hidden = false; };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(secret).then(done, function () { fallback(secret, done); });
    } else {
      fallback(secret, done);
    }
  });

  function fallback(text, done) {  // plain http on another host: no Clipboard API
    var area = document.createElement("textarea");
    area.value = text;
    document.body.appendChild(area);
    area.select();
    try { if (document.execCommand("copy")) done(); } finally { area.remove(); }
  }

  document.getElementById("state").addEventListener("change", load);
  var userFilter = document.getElementById("user-filter");
  if (userFilter) userFilter.addEventListener("change", load);
  document.getElementById("search").addEventListener("input", render);
  load();
})();
