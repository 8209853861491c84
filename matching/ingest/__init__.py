"""The pure ingest layer: files in, validated records out, and records back out to files.

``reader`` reads CSV / XLSX / JSONL in any common encoding into rows of text; ``parse`` validates
rows into the market records of :mod:`matching.domain.records`, reporting every problem by row;
``investment_events`` defines the format for real deal data and ``crunchbase`` maps the CrunchBase
2013 export onto it; ``export`` writes records back in the import format. No database code here:
loading is ``capconnect``'s job.
"""

from matching.ingest.parse import COLUMNS, ParseResult, RowError
from matching.ingest.reader import ReadError, Row, Table, iter_table, read_table

__all__ = ["COLUMNS", "ParseResult", "ReadError", "Row", "RowError", "Table", "iter_table", "read_table"]
