// Shared by every dashboard page: calls to the admin API with the session cookie and the page's
// CSRF token, error display, logout.
(function () {
  "use strict";
  var token = document.querySelector('meta[name="csrf-token"]').content;

  function showError(message) {
    var box = document.getElementById("error");
    box.textContent = message || "";
    box.hidden = !message;
  }

  // fetch JSON from the gateway; rejects with the API's error message.
  function api(method, path, body) {
    var options = {method: method, credentials: "same-origin",
                   headers: {"Accept": "application/json"}};
    if (method !== "GET" && method !== "HEAD") {
      options.headers["X-CSRF-Token"] = token;
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body || {});
    }
    return fetch(path, options).then(function (response) {
      return response.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
        if (response.status === 401 && path.indexOf("/dashboard/login") !== 0) {
          window.location.href = "/dashboard/login?next=" +
            encodeURIComponent(window.location.pathname + window.location.search);
        }
        if (!response.ok) {
          var message = data && data.error && data.error.message;
          var error = new Error(message || ("HTTP " + response.status));
          error.status = response.status;
          throw error;
        }
        return data;
      });
    });
  }

  function when(iso) {
    if (!iso) return "–";
    return iso.replace("T", " ").replace("Z", "");
  }

  function number(value) {
    return Number(value || 0).toLocaleString("en-US");
  }

  function el(tag, text, className) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = text;
    if (className) node.className = className;
    return node;
  }

  var logout = document.getElementById("logout");
  if (logout) {
    logout.addEventListener("click", function () {
      api("POST", "/dashboard/logout").then(function (data) {
        window.location.href = data.next;
      }, function (error) { showError(error.message); });
    });
  }

  window.Dashboard = {api: api, showError: showError, when: when, number: number, el: el};
})();
