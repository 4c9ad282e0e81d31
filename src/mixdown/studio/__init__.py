"""mixdown studio: listen to, compare and tweak a mix in the browser, the human in charge.

``mixdown studio SESSION_DIR`` (:mod:`mixdown.cli.studio`) serves a local page (:mod:`mixdown.studio.app`)
over the library:
the model's mix is the first draft, the producer edits every console setting with the spec's units,
locks values, re-runs the model around the locks, and hears the raw sum, the mix and a reference
at the same position. Layout:

* :mod:`~mixdown.studio.backend` - the only module that calls the rest of mixdown;
* :mod:`~mixdown.studio.state` - settings, locks, undo/redo;
* :mod:`~mixdown.studio.engine` - loop-region and full-song rendering in worker threads;
* :mod:`~mixdown.studio.service` - session, Mix, save, export, report (no HTTP);
* :mod:`~mixdown.studio.app`, :mod:`~mixdown.studio.guard` - the HTTP API and its safety checks;
* ``static/`` - the page (plain HTML, CSS and JavaScript modules; no build step, no network).
"""
