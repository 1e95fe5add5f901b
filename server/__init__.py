"""The HTTP server side of the gunicorn workers (gunicorn.conf.py: worker_class).

Outside `app/` on purpose: gunicorn imports the worker class in its master process, before the
workers fork and apply gevent's monkey-patching, and importing anything under `app` loads the
whole application (Flask, SQLAlchemy, the SDKs) there. These modules import only gevent and
gunicorn.
"""
