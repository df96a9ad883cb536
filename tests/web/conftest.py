from __future__ import annotations

import pytest
from flask import Flask

from tests.web.pages import Browser


@pytest.fixture()
def browser(app: Flask) -> Browser:
    return Browser(app)
