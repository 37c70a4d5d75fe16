"""gunicorn settings file of `make run` (geoapp.serve passes it with -c).

A worker that has loaded the app (data read and validated, catalog built) writes its pid into
$ATLAS_READY_DIR. geoapp.serve switches nginx to a new gunicorn only when every worker of it has
done so, so no request is sent to a gunicorn whose workers are still loading.
"""
import os
from pathlib import Path


def post_worker_init(worker):  # gunicorn calls this in the worker after the app is loaded
    ready = os.environ.get("ATLAS_READY_DIR")
    if ready:
        Path(ready, str(os.getpid())).touch()
