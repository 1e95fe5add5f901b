"""The Swagger UI as shipped: every documented request example succeeds against an app like
`make run`'s (the built-in default config, the mock vendor, `flask demo`'s admin key); the page
loads in Chromium without a script error, the API surfaces' groups first; the spec's tags are in
that order."""
import re

import pytest

FIRST_TAGS = ["OpenAI", "Anthropic", "Responses"]
# the examples that create what the others work on run first
FIRST = [("post", "/admin/users"), ("post", "/admin/projects"), ("post", "/admin/keys")]


@pytest.fixture
def demo(app_factory):
    """An app with the built-in config (mock models only) and the demo admin's key."""
    app = app_factory(GATEWAY_CONFIG=None)
    result = app.test_cli_runner().invoke(args=["demo"])
    assert result.exit_code == 0, result.output
    [key] = re.findall(r"sk-gw-\S+", result.output)
    return app, {"Authorization": f"Bearer {key}"}


def operations(spec):
    ops = [(method, path, op) for path, methods in spec["paths"].items()
           for method, op in methods.items()]
    return sorted(ops, key=lambda o: (FIRST.index(o[:2]) if o[:2] in FIRST else len(FIRST)))


def test_every_request_example_succeeds_on_a_make_run_app(demo):
    app, headers = demo
    client = app.test_client()
    spec = client.get("/apispec_1.json").get_json()
    ids, ran = {}, []
    for method, path, op in operations(spec):
        body = op.get("requestBody")
        needed = re.findall(r"{(\w+)}", path)
        required_query = [p for p in op.get("parameters", [])
                          if p.get("in") == "query" and p.get("required")]
        if body is None and (method != "get" or needed or required_query):
            continue  # only body examples, and GETs Swagger UI can send as they are
        example = None
        if body is not None:
            media = body["content"]["application/json"]
            assert "example" in media, f"{method.upper()} {path} documents no request example"
            example = media["example"]
        url = path.format(**{name: ids[name] for name in needed})
        response = client.open(url, method=method.upper(), json=example, headers=headers)
        assert 200 <= response.status_code < 300, (method, path, example,
                                                   response.get_data(as_text=True))
        ran.append((method, path))
        created = response.get_json() if response.is_json else None
        for prefix, name in (("/admin/users", "user_id"), ("/admin/projects", "project_id"),
                             ("/admin/keys", "key_id")):
            if (method, path) == ("post", prefix):
                ids[name] = created["id"]
    assert ("post", "/v1/chat/completions") in ran and ("post", "/v1/messages") in ran
    assert ("patch", "/admin/keys/{key_id}") in ran and len(ran) >= 14


def test_the_spec_lists_the_api_surfaces_first(client):
    spec = client.get("/apispec_1.json").get_json()
    names = [tag["name"] for tag in spec["tags"]]
    assert names[:3] == FIRST_TAGS
    used = {t for methods in spec["paths"].values() for op in methods.values()
            for t in op.get("tags", [])}
    assert used <= set(names)


def test_the_ui_page_has_no_python_literal_in_its_script(client):
    page = client.get("/apidocs/").get_data(as_text=True)
    scripts = "\n".join(re.findall(r"<script>(.*?)</script>", page, re.S))
    assert not re.search(r"(=|:|\(|,)\s*(None|True|False)\b", scripts), scripts


def test_the_ui_loads_in_chromium_without_errors(page):
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto("/apidocs/")
    page.wait_for_selector(".opblock-tag")
    tags = [t.strip() for t in page.locator(".opblock-tag span").all_inner_texts()
            if t.strip()]
    assert [t for t in tags if t in {"OpenAI", "Anthropic", "Responses", "Admin", "Usage",
                                     "Health"}][:3] == FIRST_TAGS
    assert errors == []
