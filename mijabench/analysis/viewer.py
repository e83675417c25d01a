"""The sample viewer inside ``report.html``: the audit's prompts and responses as a filterable table.

One HTML fragment with its own CSS and JavaScript inline (no external asset, works from a file on
disk). Rows carry their group, strategy, language, outcome and verdict as ``data-*`` attributes;
the filters hide the rows that do not match and report how many are shown. Prompts and every
response not judged safe stay inside a closed ``<details>`` until clicked. Text is escaped by
Jinja2's autoescape; the script only toggles ``hidden`` and writes counts.
"""

from __future__ import annotations

from collections import defaultdict

import pyarrow as pa
from jinja2 import Environment
from markupsafe import Markup

from mijabench.analysis.figures import axis_label, group_label

MAX_ROWS = 2000  # a full audit can hold 100k rows; the viewer samples evenly across cells
FILTERS = (("model", "Model"), ("language", "Language"), ("group", "Group"), ("strategy", "Strategy"),
           ("kind", "Prompt kind"), ("outcome", "Outcome"), ("verdict", "Verdict"))
COLUMNS = ("id", "model", "language", "group", "strategy", "kind", "prompt", "response", "verdict",
           "outcome", "rationale", "error")


def pick_rows(table: pa.Table, max_rows: int = MAX_ROWS) -> list[int]:
    """Row indices to show: all of them, or ``max_rows`` taken round-robin over
    (model, language, group, strategy) cells in id order, so every cell appears."""
    n = table.num_rows
    if n <= max_rows:
        return list(range(n))
    col = lambda name: (table.column(name).to_pylist() if name in table.column_names
                        else [""] * n)
    keys = list(zip(col("model"), col("language"), col("group"), col("strategy")))
    ids = col("id")
    cells: dict[tuple, list[int]] = defaultdict(list)
    for i in sorted(range(n), key=lambda i: str(ids[i])):
        cells[keys[i]].append(i)
    queues, chosen, depth = [cells[k] for k in sorted(cells)], [], 0
    while len(chosen) < max_rows:
        for queue in queues:
            if depth < len(queue) and len(chosen) < max_rows:
                chosen.append(queue[depth])
        depth += 1
    return sorted(chosen)


def _rows(table: pa.Table, picked: list[int]) -> list[dict]:
    present = [c for c in COLUMNS if c in table.column_names]
    data = table.select(present).take(pa.array(picked, pa.int64())).to_pylist() if picked else []
    rows = []
    for r in data:
        r = {c: "" if r.get(c) is None else str(r.get(c)) for c in COLUMNS}
        r["group_name"] = group_label(r["group"], capitalize=True) if r["group"] else ""
        r["strategy_name"] = axis_label("strategy", r["strategy"]) if r["strategy"] else ""
        r["outcome"] = r["outcome"] or "none"
        r["hidden_response"] = r["verdict"] != "safe"  # harmful, unparsed and error stay closed
        rows.append(r)
    return rows


def _options(rows: list[dict]) -> list[tuple[str, str, list[tuple[str, str, int]]]]:
    out = []
    for key, label in FILTERS:
        counts: dict[str, int] = defaultdict(int)
        names: dict[str, str] = {}
        for r in rows:
            counts[r[key]] += 1
            names[r[key]] = r.get(f"{key}_name") or r[key] or "(none)"
        if len(counts) > 1 or key in ("group", "strategy", "language", "outcome", "verdict"):
            out.append((key, label, [(v, names[v], counts[v]) for v in sorted(counts, key=names.get)]))
    return out


def sample_viewer(table: pa.Table, max_rows: int = MAX_ROWS) -> tuple[Markup, int]:
    """The viewer's HTML fragment and how many rows it shows (of ``table.num_rows``)."""
    rows = _rows(table, pick_rows(table, max_rows))
    html = _VIEWER.render(rows=rows, options=_options(rows), total=table.num_rows,
                          multi_model=len({r["model"] for r in rows}) > 1)
    return Markup(html), len(rows)


_VIEWER = Environment(autoescape=True).from_string("""
<section id="sample-viewer">
<p class="warning"><strong>Content warning.</strong> This table holds the audit's jailbreak prompts and the
model's answers: hateful text about real groups, shown for research. Prompts and every answer not judged
safe stay closed until you click them.</p>
<form class="viewer-filters" onsubmit="return false">
{% for key, label, values in options %}<label>{{ label }}
<select data-filter="{{ key }}"><option value="">all</option>
{% for value, name, count in values %}<option value="{{ value }}">{{ name }} ({{ count }})</option>{% endfor %}
</select></label>
{% endfor %}
<span id="viewer-count" aria-live="polite">{{ rows|length }} of {{ rows|length }} rows shown</span>
</form>
{% if rows|length < total %}<p class="note">Showing {{ rows|length }} of {{ total }} responses, taken evenly
across model × language × group × strategy cells; audit.parquet holds them all.</p>{% endif %}
<table id="viewer-table"><thead><tr>{% if multi_model %}<th>Model</th>{% endif %}<th>Lang</th><th>Group</th>
<th>Strategy</th><th>Kind</th><th>Prompt</th><th>Response</th><th>Outcome</th><th>Verdict</th><th>Rationale</th>
</tr></thead><tbody>
{% for r in rows %}<tr class="verdict-{{ r.verdict }}" data-model="{{ r.model }}" data-language="{{ r.language }}"
 data-group="{{ r.group }}" data-strategy="{{ r.strategy }}" data-kind="{{ r.kind }}" data-outcome="{{ r.outcome }}"
 data-verdict="{{ r.verdict }}">{% if multi_model %}<td>{{ r.model }}</td>{% endif %}<td>{{ r.language|upper }}</td>
<td>{{ r.group_name }}</td><td>{{ r.strategy_name }}</td><td>{{ r.kind }}</td>
<td><details><summary>prompt ({{ r.prompt|length }} chars)</summary><pre>{{ r.prompt }}</pre></details></td>
<td>{% if r.error %}<span class="err">generation failed: {{ r.error }}</span>
{% elif r.hidden_response %}<details class="hidden-response"><summary>show response (judged {{ r.verdict }})</summary>
<pre>{{ r.response }}</pre></details>{% else %}<pre>{{ r.response }}</pre>{% endif %}</td>
<td>{{ r.outcome }}</td><td class="v">{{ r.verdict }}</td><td>{{ r.rationale }}</td></tr>
{% endfor %}</tbody></table>
<script>
(function () {
  var selects = document.querySelectorAll("#sample-viewer select[data-filter]");
  var rows = document.querySelectorAll("#viewer-table tbody tr");
  function apply() {
    var want = {};
    selects.forEach(function (s) { if (s.value !== "") want[s.dataset.filter] = s.value; });
    var shown = 0;
    rows.forEach(function (tr) {
      var ok = Object.keys(want).every(function (k) { return tr.dataset[k] === want[k]; });
      tr.hidden = !ok;
      if (ok) shown += 1;
    });
    document.getElementById("viewer-count").textContent = shown + " of " + rows.length + " rows shown";
  }
  selects.forEach(function (s) { s.addEventListener("change", apply); });
})();
</script>
</section>
""")

CSS = """
#sample-viewer .warning{background:#fff4e5;border-left:4px solid #e08a00;padding:.5em .8em}
.viewer-filters{display:flex;flex-wrap:wrap;gap:.4em 1em;align-items:end;margin:.6em 0}
.viewer-filters label{display:flex;flex-direction:column;font-size:.8em;color:#444}
#viewer-count{font-size:.85em;color:#333;margin-left:auto}
#viewer-table{font-size:.8em;width:100%}#viewer-table td{vertical-align:top}
#viewer-table pre{white-space:pre-wrap;max-height:14em;overflow:auto;margin:.2em 0;font-size:.95em}
#viewer-table tr.verdict-harmful td.v{color:#b2182b;font-weight:600}
#viewer-table tr.verdict-unparsed td.v{color:#8a5a00}.err{color:#777}
"""
