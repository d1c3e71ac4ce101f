"""CSV to Sections with the standard csv module, streaming so huge files stay cheap."""

from __future__ import annotations

import csv
from pathlib import Path

from appliance.documents.model import Section
from appliance.documents.tabular import table_sections
from appliance.documents.text_decoding import open_text

_SNIFF_CHARS = 32768
_DELIMITERS = ",;\t|"


def csv_sections(path: Path) -> list[Section]:
    with open_text(path) as file:
        dialect = _sniff(file.read(_SNIFF_CHARS))
        file.seek(0)
        # Records, not lines, are numbered (a quoted field may span lines), and the
        # header is row 1, as in a spreadsheet opened on the same file.
        return table_sections(enumerate(csv.reader(file, dialect), start=1), path.stem)


def _sniff(sample: str) -> type[csv.Dialect] | csv.Dialect:
    # A sample cut mid-line confuses the sniffer, so only whole lines are shown to it.
    if len(sample) == _SNIFF_CHARS and "\n" in sample:
        sample = sample[: sample.rindex("\n")]
    try:
        return csv.Sniffer().sniff(sample, delimiters=_DELIMITERS)
    except csv.Error:
        return _dialect_from_header(sample)


def _dialect_from_header(sample: str) -> type[csv.Dialect]:
    """Fallback for rows too irregular to sniff: the header's most frequent delimiter."""
    header = sample.split("\n", 1)[0]
    counts = {delimiter: header.count(delimiter) for delimiter in _DELIMITERS}
    delimiter = max(counts, key=counts.__getitem__)
    if counts[delimiter] == 0 or delimiter == ",":
        return csv.excel  # one column, or comma-separated after all
    return type("HeaderDialect", (csv.excel,), {"delimiter": delimiter})
