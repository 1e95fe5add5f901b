// Request logs: the filter form is the query string of GET /admin/logs (so a filtered view is a
// bookmarkable /dashboard/logs?… URL); pages go back in time with the API's next_cursor, and
// the cursors of the pages before are kept in the browser history's state for "Newer".
(function () {
  "use strict";
  var D = Dashboard;
  var FILTERS = ["from", "to", "status", "model", "key_id", "user_id", "project_id", "provider",
                 "error_type", "request_id"];
  var form = document.getElementById("filters");
  var keys = {};     // key id -> key, from /admin/keys: its prefix, name and owner's email
  var emails = {};   // user id -> email
  var nextCursor = null;
  var loading = 0;
  document.body.dataset.loading = "1";  // until the first page is shown (tests wait for it)

  function current() { return new URLSearchParams(window.location.search); }
  function trail() { return (window.history.state && window.history.state.trail) || []; }

  // The API's query: the page's filters (blank ones left out), its cursor and limit.
  function apiQuery(params) {
    var query = new URLSearchParams();
    FILTERS.concat(["cursor", "limit"]).forEach(function (name) {
      var value = (params.get(name) || "").trim();
      if (value) query.set(name, value);
    });
    if (!query.has("limit")) query.set("limit", "50");
    return query;
  }

  function go(params, newTrail) {
    var search = params.toString();
    window.history.pushState({trail: newTrail}, "", "/dashboard/logs" + (search ? "?" + search : ""));
    load();
  }

  function withCursor(cursor) {
    var params = current();
    if (cursor) params.set("cursor", cursor); else params.delete("cursor");
    return params;
  }

  function cost(value) {
    if (value === null || value === undefined) return "–";
    var text = String(value);
    if (text.indexOf(".") >= 0) text = text.replace(/0+$/, "").replace(/\.$/, "");
    return "$" + text;
  }

  function ms(value) { return value === null || value === undefined ? "–" : D.number(value) + " ms"; }

  function keyLabel(id) {
    if (id === null || id === undefined) return "–";
    var key = keys[id];
    return key ? key.prefix + "…" + (key.name ? " " + key.name : "") : "#" + id;
  }

  function userLabel(id) {
    if (id === null || id === undefined) return "–";
    return emails[id] || "#" + id;
  }

  function statusCell(row) {
    var td = D.el("td", String(row.status_code), "status s" + String(row.status_code)[0] + "xx");
    if (row.error_type) td.title = row.error_type;
    return td;
  }

  function render(rows) {
    var body = document.querySelector("#logs tbody");
    body.textContent = "";
    rows.forEach(function (row) {
      var tr = document.createElement("tr");
      tr.dataset.requestId = row.request_id;
      var time = D.el("td", null, "mono");
      var link = D.el("a", D.when(row.created_at));
      link.href = "/dashboard/logs/" + encodeURIComponent(row.request_id);
      link.title = row.request_id + (row.client_request_id ? " (client: " + row.client_request_id + ")" : "");
      time.appendChild(link);
      tr.appendChild(time);
      tr.appendChild(statusCell(row));
      tr.appendChild(D.el("td", row.model));
      tr.appendChild(D.el("td", row.provider || "–"));
      tr.appendChild(D.el("td", keyLabel(row.api_key_id), "mono"));
      tr.appendChild(D.el("td", userLabel(row.user_id)));
      tr.appendChild(D.el("td", D.number(row.input_tokens) + " / " + D.number(row.output_tokens), "num"));
      tr.appendChild(D.el("td", cost(row.cost_usd), "num"));
      tr.appendChild(D.el("td", ms(row.latency_ms), "num"));
      tr.appendChild(D.el("td", ms(row.time_to_first_token_ms), "num"));
      body.appendChild(tr);
    });
    document.getElementById("empty").hidden = rows.length > 0;
  }

  function pager(count) {
    var onPage = current().get("cursor");
    var before = trail();
    document.getElementById("next").hidden = !nextCursor;
    document.getElementById("newer").hidden = !onPage || before.length === 0;
    document.getElementById("newest").hidden = !onPage;
    document.getElementById("page-info").textContent =
      (onPage ? (before.length ? "Page " + (before.length + 1) + ": " : "Older requests: ") : "Newest: ") +
      count + " request" + (count === 1 ? "" : "s");
  }

  // The form shows the URL's filters: at once on arrival (not after the first fetch, which would
  // wipe what the user typed meanwhile) and on back/forward.
  function showFilters() {
    var params = current();
    FILTERS.forEach(function (name) {
      if (form.elements[name]) form.elements[name].value = params.get(name) || "";
    });
  }

  function load() {
    var ticket = ++loading;
    D.showError("");
    document.body.dataset.loading = "1";
    return D.api("GET", "/admin/logs?" + apiQuery(current()).toString()).then(function (page) {
      if (ticket !== loading) return;
      nextCursor = page.next_cursor;
      render(page.data);
      pager(page.data.length);
      delete document.body.dataset.loading;
    }, function (error) {
      if (ticket !== loading) return;
      nextCursor = null;
      render([]);
      pager(0);
      document.getElementById("empty").hidden = true;
      D.showError(error.message);
      delete document.body.dataset.loading;
    });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var params = new URLSearchParams();
    FILTERS.forEach(function (name) {
      var field = form.elements[name];
      var value = field ? field.value.trim() : "";
      if (value) params.set(name, value);
    });
    var limit = current().get("limit");
    if (limit) params.set("limit", limit);
    go(params, []);
  });

  document.getElementById("next").addEventListener("click", function () {
    if (nextCursor) go(withCursor(nextCursor), trail().concat([current().get("cursor") || ""]));
  });
  document.getElementById("newer").addEventListener("click", function () {
    var before = trail();
    if (before.length) go(withCursor(before[before.length - 1]), before.slice(0, -1));
  });
  document.getElementById("newest").addEventListener("click", function () { go(withCursor(null), []); });
  window.addEventListener("popstate", function () { showFilters(); load(); });

  function options(listId, items) {
    var list = document.getElementById(listId);
    items.forEach(function (item) {
      var option = document.createElement("option");
      option.value = item[0];
      if (item[1]) option.label = item[1];
      list.appendChild(option);
    });
  }

  // Names for the key and user columns, and suggestions for the form; the table waits for them
  // (a failure only leaves ids in their place).
  var lookups = [D.api("GET", "/admin/keys?limit=500").then(function (page) {
    page.data.forEach(function (key) {
      keys[key.id] = key;
      if (key.user_id !== null && key.user_email) emails[key.user_id] = key.user_email;
    });
    options("key-ids", page.data.map(function (key) {
      return [String(key.id), key.prefix + "… " + (key.name || "") + (key.user_email ? " · " + key.user_email : "")];
    }));
  }, function () {})];
  if (document.body.dataset.role === "admin") {
    lookups.push(D.api("GET", "/admin/models").then(function (page) {
      options("model-names", page.data.map(function (model) { return [model.name]; }));
    }, function () {}));
  }
  showFilters();
  Promise.all(lookups).then(load);
})();
