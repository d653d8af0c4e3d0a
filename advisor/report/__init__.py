"""The advisor's HTML and PDF report."""
