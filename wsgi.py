"""WSGI entry point: `gunicorn wsgi:app`."""
from geoapp.web import create_app

app = create_app()
