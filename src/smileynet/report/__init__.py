"""report: one self-contained HTML page of every result."""
