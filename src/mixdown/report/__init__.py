"""The HTML report of ``mixdown mix --report``: what it draws (:mod:`mixdown.report.analysis`, from the
renderer's code), the figures (:mod:`mixdown.report.figures`), the page (:mod:`mixdown.report.page`),
the reference comparison (:mod:`mixdown.report.reference`) and the reverb (:mod:`mixdown.report.reverb`)."""

from mixdown.report.analysis import analyse, compressor_gain_db, eq_response_db, static_curve
from mixdown.report.figures import spectrum_figure
from mixdown.report.page import write_report

__all__ = ["analyse", "compressor_gain_db", "eq_response_db", "spectrum_figure", "static_curve", "write_report"]
