"""Every word the reports show people: headings, row labels, column names, sentences, marks.

The one table of labels: `render.document` builds the summary and the diff from it, and the Markdown, the
HTML, the charts, the graph view and the terminal text all show what it says, so a label changed here changes
everywhere at once. Sentences are `str.format` templates over the named fields. Tables of pages use the JSON
keys (url, inbound, outbound, pagetype, is_compliant, …) as column names, so a reader can match the JSON.
"""

from __future__ import annotations

# -- marks shared by the depth table, the depth charts and the terminal --------------------------------------
CHOSEN_MARK = "◀"
CHOSEN = "◀ chosen"
OVER_LIMIT = "over the limit"
NOTES = "Notes"
NONE_SHOWN = "None."

# -- the graph summary ---------------------------------------------------------------------------------------
SUMMARY_TITLE = "Link graph summary"
LINKS_FILE = "links file"
META_FILE = "meta file"
COUNT_HEADERS = ("", "count")
#: GraphSummary field → its row in the counts table, in the order shown (meta rows only with a meta file)
COUNTS = {
    "pages": "pages (distinct URLs in links ∪ meta)",
    "pages_in_links": "pages named in the links file",
    "source_pages": "pages with outlinks (sources)",
    "edges": "links (rows of the links file)",
    "self_loops": "self-loops ({kept} the statistics)",
    "edges_counted": "links counted",
    "unique_edges": "unique links (source, target)",
    "duplicate_edges": "duplicate links",
}
META_COUNTS = {
    "pages_in_meta": "pages in the meta file",
    "pages_without_meta": "linked pages without meta",
    "orphans": "orphans at this depth",
}
SELF_LOOPS_KEPT = {True: "dropped from", False: "kept in"}  # by GraphSummary.self_loops_dropped

DEPTH_HEADING = "Links per depth (chosen depth {depth}, limit {limit:,})"
DEPTH_COLUMNS = ("depth", "links at depth", "cumulative", "fits", "chosen")
DEPTH_FITS = {True: "yes", False: "no"}  # the "fits" column of DepthChoice.table() printed as text

# -- the depth table with bars (the wizard's Depth card, DepthChoice.table() in a notebook) ------------------
DEPTH_TABLE_COLUMNS = ("depth", "links at depth", "links up to depth")
DEPTH_LIMIT_ROW = "limit {limit:,} rows"
DEPTH_LIMIT_ALL_FIT = "limit {limit:,} rows (the whole graph fits)"

DEGREES_HEADING = "Degrees"
IN_DEGREE = "Inbound links per page"
OUT_DEGREE = "Outbound links per page"
DEGREE_LINE = (
    "Over {pages:,} {over}: mean {mean:g}, median {median:g}, p90 {p90:g}, p99 {p99:g}, max {max:,}; "
    "{zero:,} with none."
)
HISTOGRAM_COLUMNS = ("links", "pages")

TOP_HEADING = "Most-linked pages (top {top})"
NO_LINKS = "No links."

ORPHANS_HEADING = "Orphans at this depth"
ORPHANS_LINE = (
    "{orphans:,} of {pages:,} pages of the meta file ({share}) receive no link in the links file "
    "(they may be linked from pages deeper than the exported depth)."
)
ORPHANS_FIRST = {True: "First {n} (by impressions, then URL):", False: "First {n} (by URL):"}  # has impressions?

PAGETYPES_HEADING = "Pages per page type"
PAGETYPE_COLUMNS = ("page type", "pages", "share", "inbound links", "orphans")

COMPLIANCE_HEADING = "Compliance"
COMPLIANCE_HEADERS = ("", "value")
#: key of GraphSummary.compliance → its row; shares are shown as percentages
COMPLIANCE = {
    "compliant_pages": "compliant pages",
    "non_compliant_pages": "non-compliant pages",
    "unknown_pages": "pages of unknown compliance",
    "non_compliant_linked_pages": "non-compliant pages receiving links",
    "non_compliant_linked_share": "… share of the non-compliant pages",
    "linked_pages_non_compliant_share": "… share of the linked pages",
    "links_to_non_compliant": "links to non-compliant pages",
    "links_to_non_compliant_share": "… share of the links counted",
}

# -- one export at a glance (the wizard's Result card) -------------------------------------------------------
#: key → row label, in the order shown
EXPORT_ROWS = {
    "pages": "pages (meta rows)",
    "links": "links (edges)",
    "depth": "click depth",
    "fields": "meta fields",
    "time": "export time",
}
URL_ONLY = "URL only"
EXPORT_TIME = "{took} (from {started} to {finished} UTC)"
KEPT_HEADING = "Earlier exports of this analysis, kept beside it"
SETTINGS = "limit {limit:,} · {fields}"  # the settings an export was requested with
FIELD_COUNT = {True: "{n} field", False: "{n} fields"}  # by n == 1

GSC_PERIOD_LINE = "Search Console numbers (impressions, clicks, …) cover {start} to {end}."

OPPORTUNITIES_HEADING = "Opportunities: pages that deserve more internal links"
#: how the inlinks were counted, by GraphSummary.opportunities["inlinks"]
OPP_INLINKS = {
    "inbound": "inbound links in the links file",
    "inlinks_internal_nb_unique": "Botify's unique internal inlinks over the whole crawl",
}
OPP_UNDER_LINKED = "Traffic but few internal inlinks"
OPP_UNDER_LINKED_LINE = (
    "{pages:,} pages earn {traffic} yet have at most {few:g} internal inlinks (the median page's; {inlinks})."
)
OPP_LOW_PAGERANK = "Traffic but a low internal PageRank"
OPP_LOW_PAGERANK_LINE = (
    "{pages:,} pages earn {traffic} with an internal PageRank of at most {threshold:g} (the median)."
)
OPP_DEEP = "Deep pages that earn traffic"
OPP_DEEP_LINE = "{pages:,} pages at depth {min_depth} or deeper earn {total:,} {traffic} ({share} of all)."
OPP_UNLINKED = "Compliant pages no link reaches"
OPP_UNLINKED_LINE = (
    "{pages:,} compliant pages receive no link in the links file (they may be linked from pages deeper than the "
    "exported depth)."
)
OPP_FIRST = "First {n} by {traffic}:"
OPP_FIRST_BY_URL = "First {n} by URL:"
OPP_NO_TRAFFIC = "No clicks or impressions in the meta file: export them to see which pages with traffic lack links."

# -- what changed between two crawls -------------------------------------------------------------------------
DIFF_TITLE = "What changed: {old} → {new}"
DIFF_FILES = ("old", "new")
DIFF_COLUMNS = ("added", "removed", "in both")  # after the old and new analyses' columns
DIFF_LINKS = "distinct links (self-loops left out)"
DIFF_PAGES = "pages (links ∪ meta)"
DIFF_GAINED_LINE = "{gained:,} pages present in both crawls gained inbound links, {lost:,} lost some."
GAINED_HEADING = "Pages that gained the most inbound links (top {top})"
LOST_HEADING = "Pages that lost the most inbound links (top {top})"
APPEARED_HEADING = "Pages that appeared (most-linked first)"
DISAPPEARED_HEADING = "Pages that disappeared (most-linked first)"
ADDED_HEADING = "Links added (first {n}, in the new file's order)"
REMOVED_HEADING = "Links removed (first {n}, in the old file's order)"
CHANGE = "change"
LINK_COLUMNS = ("source", "target")
DEPTH_CHANGES_HEADING = "Depth changes"
DEPTH_CHANGES_LINE = (
    "Of {pages_compared:,} pages with a depth in both crawls: {deeper:,} deeper, {shallower:,} shallower, "
    "{same:,} unchanged."
)
DEEPER = "Deeper"
SHALLOWER = "Shallower"

# -- charts --------------------------------------------------------------------------------------------------
DEPTH_CHART_TITLE = "Internal links up to each depth (cumulative)"
DEPTH_CHART_CHOSEN = ", chosen depth {depth}"
DEPTH_CHART_BAR = "depth {depth}: {cumulative:,} links at depth ≤ {depth}"
DEPTH_CHART_LIMIT = "limit {limit:,}"
DEPTH_CHART_AXIS = "click depth"
DEPTH_TEXT_TITLE = "Internal links up to each depth (cumulative); limit {limit:,} (|), chosen depth {depth} (◀)"
HISTOGRAM_BAR = "{bucket} links: {pages:,} pages"

# -- the interactive graph view ------------------------------------------------------------------------------
VIEW_TITLE = "Link graph"
VIEW_FRAME = "link graph"  # the iframe's title (what a screen reader announces)
VIEW_PAGES = "{shown:,} of {total:,} pages"
VIEW_MOST_LINKED = " (the most-linked)"
VIEW_LINKS_SAMPLED = ", {drawn:,} of the {among:,} distinct links among them"
VIEW_LINKS_ALL = ", the {among:,} distinct links among them"
VIEW_SAMPLE = " — a sample: the view shows at most {max_nodes:,} pages and {max_links:,} links."
VIEW_COLOUR = "Colour: {what}. "
VIEW_SIZE = "Size: {what}. "
VIEW_HELP = "Scroll to zoom, drag to pan, hover for the URL, click to pin it, double-click to fit."
VIEW_COLOUR_BY = {"pagetype": "page type"}  # any other column is named as it is
VIEW_SIZE_BY = {"inbound": "inbound links", "impressions": "impressions"}  # any other column is named as it is
VIEW_NO_COLUMN = "No {column} in the meta file: sized by inbound links."
VIEW_NOT_A_NUMBER = "{column} is not a number: sized by inbound links."
VIEW_NO_COLOUR_COLUMN = "No {column} in the meta file: pages are not coloured."
VIEW_BIN = "{low} to {high}"  # a range of a number column, when pages are coloured by it
VIEW_BIN_ONE = "{value}"
VIEW_ALL_PAGES = "page"  # the one group when pages are not coloured
VIEW_OTHER = "other"  # page types beyond the palette
VIEW_NOT_IN_META = "(not in meta)"
VIEW_FLAG = {1: "yes", 0: "no", -1: "unknown"}

# -- batches (botify-graph batch): the live table, the plain lines and the results file ---------------------
BATCH_STATUS_COLUMNS = ("project", "analysis", "step", "jobs", "rows", "elapsed")
BATCH_RESULT_COLUMNS = ("project", "analysis", "status", "files", "rows", "error")
BATCH_TITLE = "Batch {name}: {ok} of {total} projects succeeded"
BATCH_PROGRESS = "{done} of {total} projects done{failed} · {jobs} of {max_jobs} export jobs running · {elapsed}"
BATCH_PROGRESS_FAILED = " ({failed} failed)"
BATCH_STARTED = (
    "{total} project{s} from {source} into {out} (at most {max_jobs} export jobs at once, {rate:g} requests/s)"
)
#: a row's status in the results → what it means (the word itself goes in the CSV)
BATCH_STATUSES = {
    "exported": "exported: new files",
    "reused": "reused: the files of these settings were already there, no job was created",
    "skipped": "skipped: --new-only and this analysis was already exported",
    "failed": "failed: see the error",
}
BATCH_ROWS = "rows: links exported (rows of the links file)"
BATCH_FILES = "files: relative to {out}"
BATCH_WHEN = "Started {started}, took {elapsed}."
BATCH_NOTES = "Notes"
#: the batch's own steps (the export's steps are named by the pipeline: connect, analysis, fields, depth, ...)
BATCH_STEPS = {
    "waiting": "waiting",
    "new": "newest crawl?",
    "connect": "connecting",
    "analysis": "analysis",
    "reuse": "reusing files",
    "fields": "fields",
    "depth": "sizing",
    "export": "starting job",
    "poll": "job running",
    "download": "downloading",
    "reports": "reports",
    "compare": "comparing",
    "done": "done",
}

# -- the field catalogue (botify-graph fields, the wizard's Fields card) --------------------------------------
CATALOG_TITLE = "Fields of {project}, analysis {analysis}"
CATALOG_COLUMNS = ("field (for --fields)", "group", "type", "column")
CATALOG_DEFAULT = "default"  # marks the seven defaults the analysis has
CATALOG_DEPRECATED = "deprecated"
CATALOG_GSC = (
    "Search Console data: {start} to {end} (--gsc-period picks the days; default: {days} ending at the crawl)."
)
CATALOG_NO_GSC = "No Search Console data in this project."
CATALOG_UNREAD = "Field lists Botify did not give (their fields cannot be checked): {collections}."
CATALOG_HIDDEN = (
    "{n:,} more fields cannot be exported (multiple-valued, aggregates, other collections): --all lists them."
)
CATALOG_NOT_EXPORTABLE = "Cannot be exported"
CATALOG_WHY = ("field", "why")
