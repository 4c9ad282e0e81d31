"""The HTML report of ``mixdown mix --report``: settings, strip curves, stages and loudness
(:mod:`mixdown.report.page`), and the reference comparison (:mod:`mixdown.report.reference`)."""

from mixdown.report.page import analyse, compressor_gain_db, eq_response_db, spectrum_figure, static_curve, write_report

__all__ = ["analyse", "compressor_gain_db", "eq_response_db", "spectrum_figure", "static_curve", "write_report"]
