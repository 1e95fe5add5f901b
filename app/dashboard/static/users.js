// Users (admins): list with filters, create, change (only the fields changed), deactivate.
(function () {
  "use strict";
  var D = Dashboard;
  var create = document.getElementById("create-user");
  var edit = document.getElementById("edit-user");
  var editing = null;

  function query() {
    var params = new URLSearchParams({limit: "500"});
    ["role", "active"].forEach(function (name) {
      var value = document.getElementById(name + "-filter").value;
      if (value) params.set(name, value);
    });
    var q = document.getElementById("q").value.trim();
    if (q) params.set("q", q);
    return "/admin/users?" + params.toString();
  }

  function button(text, className, onClick) {
    var node = D.el("button", text, className);
    node.type = "button";
    node.addEventListener("click", onClick);
    return node;
  }

  function render(page) {
    var body = document.querySelector("#users tbody");
    body.textContent = "";
    page.data.forEach(function (user) {
      var tr = document.createElement("tr");
      tr.dataset.userId = user.id;
      if (editing === user.id) tr.className = "selected";
      [String(user.id), user.email, user.name || "", user.role, user.active ? "yes" : "no",
       Limits.summary(user), D.when(user.created_at)].forEach(function (text) {
        tr.appendChild(D.el("td", text));
      });
      var actions = D.el("td");
      actions.appendChild(button("Edit", "edit", function () { open(user); }));
      if (user.active) {
        actions.appendChild(button("Deactivate", "danger deactivate", function () {
          deactivate(user);
        }));
      }
      tr.appendChild(actions);
      body.appendChild(tr);
    });
    document.getElementById("count").textContent = page.data.length + " of " + page.total +
      " user" + (page.total === 1 ? "" : "s");
  }

  function load() {
    return D.api("GET", query()).then(render, function (error) { D.showError(error.message); });
  }

  function open(user) {
    editing = user.id;
    document.getElementById("edit-email").textContent = user.email;
    Limits.fill(edit, user);
    edit.hidden = false;
    edit.scrollIntoView();
    load();
  }

  function deactivate(user) {
    if (!window.confirm("Deactivate " + user.email + "? Its keys stop working.")) return;
    D.api("DELETE", "/admin/users/" + user.id).then(load, function (error) {
      D.showError(error.message);
    });
  }

  create.addEventListener("submit", function (event) {
    event.preventDefault();
    D.showError("");
    D.api("POST", "/admin/users", Limits.values(create)).then(function () {
      create.reset();
      return load();
    }, function (error) { D.showError(error.message); });
  });

  edit.addEventListener("submit", function (event) {
    event.preventDefault();
    D.showError("");
    var body = Limits.changes(edit);
    if (!Object.keys(body).length) return;
    D.api("PATCH", "/admin/users/" + editing, body).then(function (user) {
      Limits.fill(edit, user);
      return load();
    }, function (error) { D.showError(error.message); });
  });

  document.getElementById("edit-cancel").addEventListener("click", function () {
    edit.hidden = true;
    editing = null;
    load();
  });
  ["role-filter", "active-filter"].forEach(function (id) {
    document.getElementById(id).addEventListener("change", load);
  });
  document.getElementById("q").addEventListener("change", load);
  load();
})();
