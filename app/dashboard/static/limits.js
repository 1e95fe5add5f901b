// The limit fields of a form ([data-field] inputs, templates/dashboard/_limits.html and others):
// fill them from an API object, read them back as API values, and the fields changed since.
(function () {
  "use strict";

  function inputs(form) { return form.querySelectorAll("[data-field]"); }

  function read(input) {
    var kind = input.dataset.kind;
    if (kind === "bool") return input.checked;
    var value = input.value.trim();
    if (kind === "int") return value === "" ? null : Number(value);
    if (kind === "list") {
      var items = value.split(",").map(function (s) { return s.trim(); })
        .filter(function (s) { return s; });
      return items.length ? items : null;
    }
    return value === "" ? null : value;
  }

  function show(input, value) {
    if (input.dataset.kind === "bool") { input.checked = !!value; return; }
    if (Array.isArray(value)) value = value.join(", ");
    input.value = value === null || value === undefined ? "" : String(value);
  }

  // Fill the form from obj and remember what it showed, for changes().
  function fill(form, obj) {
    inputs(form).forEach(function (input) {
      show(input, obj[input.dataset.field]);
      input.dataset.orig = JSON.stringify(read(input));
    });
  }

  // {field: value} of every field set (for a create: empty fields are left out).
  function values(form) {
    var out = {};
    inputs(form).forEach(function (input) {
      var value = read(input);
      if (value !== null) out[input.dataset.field] = value;
    });
    return out;
  }

  // {field: value} of the fields changed since fill() (null clears a limit).
  function changes(form) {
    var out = {};
    inputs(form).forEach(function (input) {
      var value = read(input);
      if (JSON.stringify(value) !== input.dataset.orig) out[input.dataset.field] = value;
    });
    return out;
  }

  // "rpm 60 · $5/daily · gpt-4o*" for a table cell.
  function summary(obj) {
    var parts = [];
    ["rpm", "tpm"].forEach(function (f) { if (obj[f] !== null) parts.push(f + " " + obj[f]); });
    if (obj.max_parallel !== null) parts.push("parallel " + obj.max_parallel);
    if (obj.max_budget_usd !== null) {
      parts.push("$" + obj.max_budget_usd + "/" + (obj.budget_period || "lifetime"));
    }
    if (obj.models) parts.push(obj.models.join(", "));
    return parts.join(" · ") || "–";
  }

  window.Limits = {fill: fill, values: values, changes: changes, summary: summary};
})();
