"""What gunicorn loads: gunicorn -c gunicorn.conf.py wsgi:app"""
from app.startup import load_app

app = load_app()
