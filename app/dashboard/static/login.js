(function () {
  "use strict";
  var form = document.getElementById("login");
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    Dashboard.showError("");
    var key = document.getElementById("key").value.trim();
    Dashboard.api("POST", "/dashboard/login", {key: key, next: form.dataset.next})
      .then(function (data) { window.location.href = data.next; },
            function (error) { Dashboard.showError(error.message); });
  });
})();
