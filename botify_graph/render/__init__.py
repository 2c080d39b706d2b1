"""Numbers made into strings for people: nothing here computes a statistic or writes a file.

    labels      every word the reports show (the one table of labels)
    formats     how a number is written (thousands, percentages, bytes, signs)
    document    a summary or a diff as blocks (headings, sentences, tables, figures), built once
    markdown    the blocks as Markdown
    html        the blocks as an HTML fragment (with assets/report.css)
    charts      the depth chart (SVG and text) and the degree histograms (SVG)
    graphview   the interactive view as a self-contained page (assets/graphview.js, assets/graphview.css)
    progress    export events and results as terminal text
    widgets     the above as ipywidgets.HTML (ipywidgets imported when a widget is made)

It reads the numbers of `graph` and never imports `reports`, `layout` or the wizard (tests/test_imports.py).
"""
