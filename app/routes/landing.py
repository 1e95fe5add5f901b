"""GET /: a browser goes to the dashboard; any other client gets an index of the gateway."""
from flask import Blueprint, jsonify, redirect, request

bp = Blueprint("landing", __name__)
NAME = "LLM Gateway"
VERSION = "1.0"  # the API's version, as the OpenAPI document gives it


@bp.get("/")
def index():
    accept = request.accept_mimetypes
    if accept.best_match(["application/json", "text/html"]) == "text/html" and (
            accept["text/html"] > accept["application/json"]):
        return redirect("/dashboard/", code=302)
    return jsonify({
        "name": NAME, "version": VERSION,
        "links": {"api": "/v1", "models": "/v1/models", "docs": "/apidocs/",
                  "openapi": "/apispec_1.json", "dashboard": "/dashboard/",
                  "health": "/health/ready"}})
