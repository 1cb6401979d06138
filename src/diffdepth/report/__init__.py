"""Pages a person reads: report.html (and summary.png) of a result folder, index.html over
many result folders. Both are made from the files in the folders, embed or link only local
files, and use no script.

write_report("out/antinous")          # out/antinous/report.html, out/antinous/summary.png
write_index("out/temple_all")         # out/temple_all/index.html over its result folders
"""

from diffdepth.report.folder import ResultFolder, read_result_folder, result_kind
from diffdepth.report.index import write_index
from diffdepth.report.page import write_report

__all__ = ["ResultFolder", "read_result_folder", "result_kind", "write_index", "write_report"]
