"""WSGI entry point: `gunicorn wsgi:app`. Broken data stops start-up with the problems listed
(file, row, field), not a traceback."""
import sys

from geoapp.data import DataValidationError
from geoapp.web import create_app
from geoapp.web.admin import AdminTokenError

try:
    app = create_app()
except DataValidationError as error:
    sys.exit(f"{len(error.problems)} problem(s) in the data; the atlas does not start:\n"
             + "\n".join(f"  - {problem}" for problem in error.problems))
except AdminTokenError as error:
    sys.exit(f"the atlas does not start: {error}")
