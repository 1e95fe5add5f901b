// Projects (admins): list, create, open one to change it (ceilings included), add and remove
// its members.
(function () {
  "use strict";
  var D = Dashboard;
  var create = document.getElementById("create-project");
  var edit = document.getElementById("edit-project");
  var current = null;

  function fail(error) { D.showError(error.message); }

  function button(text, className, onClick) {
    var node = D.el("button", text, className);
    node.type = "button";
    node.addEventListener("click", onClick);
    return node;
  }

  function load() {
    var params = new URLSearchParams({limit: "500"});
    var q = document.getElementById("q").value.trim();
    if (q) params.set("q", q);
    return D.api("GET", "/admin/projects?" + params.toString()).then(function (page) {
      var body = document.querySelector("#projects tbody");
      body.textContent = "";
      page.data.forEach(function (project) {
        var tr = document.createElement("tr");
        tr.dataset.projectId = project.id;
        if (current && current.id === project.id) tr.className = "selected";
        [String(project.id), project.name, project.description || "",
         project.owner_id === null ? "–" : String(project.owner_id), Limits.summary(project),
         D.when(project.created_at)].forEach(function (text) { tr.appendChild(D.el("td", text)); });
        tr.appendChild(D.el("td")).appendChild(button("Open", "open", function () {
          open(project.id);
        }));
        body.appendChild(tr);
      });
      document.getElementById("count").textContent = page.data.length + " of " + page.total +
        " project" + (page.total === 1 ? "" : "s");
    }, fail);
  }

  function show(project) {
    current = project;
    document.getElementById("project-name").textContent = project.name;
    Limits.fill(edit, project);
    var body = document.querySelector("#members tbody");
    body.textContent = "";
    project.members.forEach(function (user) {
      var tr = document.createElement("tr");
      tr.dataset.userId = user.id;
      [String(user.id), user.email, user.name || "", user.role].forEach(function (text) {
        tr.appendChild(D.el("td", text));
      });
      tr.appendChild(D.el("td")).appendChild(button("Remove", "danger remove", function () {
        remove(user);
      }));
      body.appendChild(tr);
    });
    document.getElementById("project").hidden = false;
  }

  function open(id) {
    D.showError("");
    return D.api("GET", "/admin/projects/" + id).then(function (project) {
      show(project);
      load();
    }, fail);
  }

  function remove(user) {
    if (!window.confirm("Remove " + user.email + " from " + current.name +
                        "? Its keys bound to this project are revoked.")) return;
    D.api("DELETE", "/admin/projects/" + current.id + "/members/" + user.id)
      .then(show, fail);
  }

  create.addEventListener("submit", function (event) {
    event.preventDefault();
    D.showError("");
    D.api("POST", "/admin/projects", Limits.values(create)).then(function (project) {
      create.reset();
      show(project);
      return load();
    }, fail);
  });

  edit.addEventListener("submit", function (event) {
    event.preventDefault();
    D.showError("");
    var body = Limits.changes(edit);
    if (!Object.keys(body).length) return;
    D.api("PATCH", "/admin/projects/" + current.id, body).then(function (project) {
      show(project);
      return load();
    }, fail);
  });

  document.getElementById("add-member").addEventListener("submit", function (event) {
    event.preventDefault();
    D.showError("");
    var input = event.target.querySelector("input[name=user_email]");
    D.api("POST", "/admin/projects/" + current.id + "/members",
          {user_email: input.value.trim()}).then(function (project) {
      input.value = "";
      show(project);
    }, fail);
  });

  document.getElementById("project-close").addEventListener("click", function () {
    document.getElementById("project").hidden = true;
    current = null;
    load();
  });
  document.getElementById("q").addEventListener("change", load);
  load();
})();
