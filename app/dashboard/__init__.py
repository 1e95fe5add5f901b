"""The web dashboard at /dashboard: server-rendered pages (views.py, templates/) whose JavaScript
(static/) calls the REST admin API with the session that session.py opens from an API key.
Assets, Chart.js included (static/vendor/), are served by the gateway itself: it works offline."""

from . import admin_pages  # noqa: E402,F401  (key detail, users, projects, usage pages)
