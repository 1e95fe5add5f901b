"""The client's real address behind reverse proxies (deploy/nginx.conf).

TRUSTED_PROXY_COUNT is how many proxies stand in front of the gateway and append to
X-Forwarded-For (and set X-Forwarded-Proto). werkzeug's ProxyFix then takes the address that
many hops from the right as the client's (request.remote_addr: the request log's
client_address, the failed-authentication limit per address); anything a client wrote in front
of it is ignored. 0 (the default) trusts no proxy: the socket's peer address is the client's,
and X-Forwarded-* headers are ignored — the right setting when nothing sits in front.
"""
from werkzeug.middleware.proxy_fix import ProxyFix


def register_proxies(app):
    count = int(app.config.get("TRUSTED_PROXY_COUNT") or 0)
    if count < 0:
        raise ValueError("TRUSTED_PROXY_COUNT must be 0 or more")
    if count:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count)
