"""Renderers: turn result objects (which carry Evidence) into text, JSON or HTML. They never compute."""
