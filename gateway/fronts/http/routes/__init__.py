"""One router per resource of the HTTP API, included by ``create_app``."""
