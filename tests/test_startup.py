"""Start-up does the one-off work before the first request: every page template is compiled in
create_app (a worker's first /stats no longer pays for it, and a template that does not compile
stops start-up instead of failing a user's request)."""
from pathlib import Path

import jinja2
import pytest

from geoapp.web import create_app

TEMPLATES = sorted(p.name for p in (Path(__file__).parent.parent / "geoapp/web/templates").glob("*.html"))


def compiled(app) -> set[str]:
    return {key[1] for key in app.jinja_env.cache.keys()}


def test_every_page_template_is_compiled_when_the_app_is_made(app):
    assert len(TEMPLATES) >= 10
    assert set(TEMPLATES) <= compiled(app)


def test_a_template_that_does_not_compile_stops_start_up(tmp_path, monkeypatch):
    broken = tmp_path / "templates"
    broken.mkdir()
    (broken / "about.html").write_text("{% if %}", encoding="utf-8")
    # the app's own loader first: a broken about.html in front of the real one
    original = create_app.__globals__["Flask"].create_global_jinja_loader

    def loader(self):
        return jinja2.ChoiceLoader([jinja2.FileSystemLoader(broken), original(self)])
    monkeypatch.setattr(create_app.__globals__["Flask"], "create_global_jinja_loader", loader)
    with pytest.raises(jinja2.TemplateSyntaxError):
        create_app({"TESTING": True, "ATLAS_TILES": "none",
                    "ATLAS_DATABASE_URL": f"sqlite:///{tmp_path / 'store.sqlite'}"})
