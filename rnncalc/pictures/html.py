"""``--format html``: one self-contained page (no network, no web font): the pictures, a stepper
that moves the cell diagram through time, and the report's tables.

The tables are plain HTML, readable with JavaScript off and printed as they are. The stepper
holds every step's numbers as the strings the diagram writes (formatted here, once), and on
previous/next (buttons, or the arrow keys; Home and End) puts them into the diagram of the
chosen layer and direction. Without JavaScript the diagram shows its first step.

>>> import rnncalc
>>> page = render(rnncalc.run(rnncalc.load(cell="gru")))
>>> page.startswith("<!DOCTYPE html>") and "<script" in page
True
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from html import escape
from typing import TYPE_CHECKING, Any

from rnncalc.cells import spec
from rnncalc.pictures.cell import Where, cell_canvas, scales, step_texts
from rnncalc.pictures.colors import JS as COLOR_JS
from rnncalc.pictures.heatmap import heatmap_canvas
from rnncalc.pictures.unrolled import unrolled_canvas
from rnncalc.render import fmt, fmt_vector
from rnncalc.render.report import (
    Blank,
    Block,
    Entry,
    Equations,
    Explanation,
    Figure,
    Math,
    Matrices,
    Numbers,
    Table,
    Text,
    build,
    exact,
    title_of,
)

if TYPE_CHECKING:
    from rnncalc.trace import Trace

__all__ = ["fragment", "render"]

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",Arial,sans-serif;
 margin:1.5em auto;max-width:70em;padding:0 1em;color:#222;line-height:1.4}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:1.6em;border-bottom:1px solid #ddd}
h3{font-size:1.05em}
.rc-figure{overflow-x:auto;margin:0.5em 0 1em}.rc-figure svg{max-width:100%;height:auto}
.rc-stepper{display:flex;gap:0.6em;align-items:center;flex-wrap:wrap;margin:0.4em 0}
.rc-stepper button,.rc-stepper select{font:inherit;padding:0.2em 0.8em}
.rc-where{font-weight:bold}.rc-hidden{display:none}
table.rc{border-collapse:collapse;margin:0.5em 0;font-variant-numeric:tabular-nums}
table.rc th,table.rc td{border-bottom:1px solid #e4e4e4;padding:0.15em 0.7em;text-align:left;
 vertical-align:top}
table.rc th{border-bottom:2px solid #999}table.rc tr.rc-group td{border-bottom:2px solid #bbb}
pre{background:#f7f7f7;padding:0.6em;overflow-x:auto;font-size:0.9em}
code{font-family:"DejaVu Sans Mono",Menlo,Consolas,monospace}
.rc-note{color:#555;font-size:0.9em}
@media print{.rc-stepper,.rc-noprint{display:none}body{max-width:none;margin:0}
 h2,h3{break-after:avoid}.rc-figure,table.rc tr{break-inside:avoid}
 .rc-figure{overflow:visible}pre{white-space:pre-wrap}}
"""

STEPPER_JS = COLOR_JS + """
(function(){
const root=document.getElementById('rc-stepper-data');if(!root)return;
const data=JSON.parse(root.textContent);
const figs=Array.from(document.querySelectorAll('.rc-cell'));
const sel=document.getElementById('rc-run'),where=document.getElementById('rc-where');
let run=0,k=0;
function show(){
  const r=data.runs[run],s=r.steps[k];
  figs.forEach((f,i)=>f.classList.toggle('rc-hidden',i!==run));
  figs[run].querySelectorAll('[data-k]').forEach(el=>{
    const key=el.getAttribute('data-k'),cut=key.lastIndexOf('.');
    const vals=s.values[key.slice(0,cut)];if(!vals)return;
    const text=vals[Number(key.slice(cut+1))];
    if(el.tagName.toLowerCase()==='rect'){
      const sc=r.scales[key.slice(0,cut)];
      el.setAttribute('fill',rc_color(parseFloat(text),sc[0],sc[1]));
      const t=el.querySelector('title');if(t)t.textContent=t.textContent.replace(/= .*$/,'= '+text);
    }else{el.textContent=text;}
  });
  where.textContent=r.title+' · t = '+s.t+' (step '+(k+1)+' of '+r.steps.length+')';
}
function go(d){const n=data.runs[run].steps.length;k=Math.max(0,Math.min(n-1,k+d));show();}
document.getElementById('rc-prev').addEventListener('click',()=>go(-1));
document.getElementById('rc-next').addEventListener('click',()=>go(1));
if(sel)sel.addEventListener('change',()=>{run=Number(sel.value);k=0;show();});
document.addEventListener('keydown',e=>{
  if(e.target&&e.target.tagName==='SELECT')return;
  if(e.key==='ArrowRight'){go(1);e.preventDefault();}
  else if(e.key==='ArrowLeft'){go(-1);e.preventDefault();}
  else if(e.key==='Home'){k=0;show();e.preventDefault();}
  else if(e.key==='End'){k=data.runs[run].steps.length-1;show();e.preventDefault();}
});
show();
})();
"""


def render(trace: Trace, *, precision: int = 4, explain: Sequence[Any] | None = None) -> str:
    """The whole page."""
    title = title_of(trace.exercise)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>{escape(title)}</title><style>{CSS}</style></head><body>\n"
            f"<h1>{escape(title)}</h1>\n"
            + fragment(trace, precision=precision, explain=explain) + "</body></html>\n")


def fragment(trace: Trace, *, precision: int = 4, explain: Sequence[Any] | None = None) -> str:
    """The page's body: pictures, stepper, tables (also a notebook's ``_repr_html_``)."""
    parts = ["<h2>Pictures</h2>", _stepper(trace, precision),
             "<h3>Unrolled over time</h3>",
             _figure(unrolled_canvas(trace, precision=precision).svg(uid="rc-unrolled-")),
             "<h3>Over time: gates, c and h</h3>",
             _figure(heatmap_canvas(trace, precision=precision).svg(uid="rc-heat-"))]
    if trace.exercise.loss is not None:
        from rnncalc.bptt import backprop
        from rnncalc.pictures.gradplot import grad_canvas

        result = backprop(trace, round_to=trace.round_to)
        parts += ["<h3>Gradient norm per step</h3>",
                  _figure(grad_canvas(trace, result, precision=precision).svg(uid="rc-grad-"))]
    for section in build(trace, explain=explain):
        tag = "h2" if section.level <= 2 else "h3"
        parts.append(f"<{tag}>{escape(section.title)}</{tag}>")
        parts += [_block(b, precision) for b in section.blocks]
    return "\n".join(parts) + "\n"


def _figure(svg: str, cls: str = "") -> str:
    return f'<div class="{" ".join(("rc-figure", cls)).strip()}">{svg}</div>'


def _stepper(trace: Trace, precision: int) -> str:
    """Every layer and direction's cell diagram (one shown), their steps' numbers, the controls."""
    ex = trace.exercise
    runs: list[dict[str, Any]] = []
    titles: list[str] = []
    figures: list[str] = []
    for lt in trace.layers:
        for tr in lt.directions.values():
            title = f"{spec(ex.cell).title} cell · layer {tr.layer} · {tr.direction}"
            steps = [{"t": t, "values": step_texts(tr, k, precision)}
                     for k, t in enumerate(tr.positions)]
            titles.append(title)
            runs.append({"title": title, "steps": steps,
                         "scales": {key: [s.lo, s.hi] for key, s in scales(tr).items()}})
            canvas = cell_canvas(trace, Where(tr.layer, tr.direction, tr.positions[0]),
                                 precision=precision, heading=False)
            hidden = " rc-hidden" if figures else ""
            figures.append(_figure(canvas.svg(uid=f"rc-cell-{len(figures)}-"), "rc-cell" + hidden))
    options = "".join(f'<option value="{i}">{escape(title)}</option>'
                      for i, title in enumerate(titles))
    choose = f'<select id="rc-run" aria-label="layer and direction">{options}</select>' \
        if len(runs) > 1 else ""
    first = f"{titles[0]} · t = {trace.layers[0].directions[ex.directions[0]].positions[0]}"
    data = json.dumps({"runs": runs}, separators=(",", ":")).replace("</", "<\\/")
    return (f'<h3>The cell, step by step</h3>\n<div class="rc-stepper">'
            f'<button id="rc-prev" type="button" title="previous step (←)">◀ previous</button>'
            f'<button id="rc-next" type="button" title="next step (→)">next ▶</button>{choose}'
            f'<span class="rc-where" id="rc-where">{escape(first)}</span></div>\n'
            f'<p class="rc-note rc-noprint">Keys: ← → move a step, Home and End jump to the '
            f'first and last.</p>\n' + "\n".join(figures)
            + f'\n<script type="application/json" id="rc-stepper-data">{data}</script>\n'
            f"<script>{STEPPER_JS}</script>")


# --------------------------------------------------------------------------- the report's blocks

def _block(block: Block, precision: int) -> str:
    from rnncalc.render.explain import render as render_explain

    if isinstance(block, Text):
        return f"<p>{escape(block.text)}</p>"
    if isinstance(block, Equations):
        lines = [m.plain for m in block.lines] + ([""] if block.notes else []) + list(block.notes)
        return "<pre><code>" + escape("\n".join(lines)) + "</code></pre>"
    if isinstance(block, Figure):  # the page draws its own pictures, in SVG
        return ""
    if isinstance(block, Explanation):
        return "<pre><code>" + escape(render_explain(list(block.lines), precision=precision)) \
            + "</code></pre>"
    if isinstance(block, Matrices):
        return "<pre><code>" + escape("\n".join(
            f"{name.plain} = {_given(m)}" for name, m in block.items)) + "</code></pre>"
    return _table(block, precision)


def _given(value: Any) -> str:
    if value and isinstance(value[0], tuple):
        return "[" + ", ".join(_given(row) for row in value) + "]"
    return "[" + ", ".join(exact(v) for v in value) + "]"


def _cell(cell: Entry, precision: int) -> str:
    if isinstance(cell, Math):
        return f"<code>{escape(cell.plain)}</code>"
    if isinstance(cell, Blank):
        return ""
    if isinstance(cell, Numbers):
        if cell.exact:
            return escape("[" + ", ".join(exact(v) for v in cell.values) + "]")
        if cell.vector:
            return escape(fmt_vector(list(cell.values), precision))
        return escape(fmt(cell.values[0], precision))
    return escape(cell)


def _table(table: Table, precision: int) -> str:
    head = "".join(f"<th>{_cell(c, precision)}</th>" for c in table.columns)
    rows = []
    for i, row in enumerate(table.rows):
        cls = ' class="rc-group"' if i in table.groups else ""
        rows.append(f"<tr{cls}>" + "".join(f"<td>{_cell(c, precision)}</td>" for c in row)
                    + "</tr>")
    caption = f'<p class="rc-note">{escape(table.caption)}</p>' if table.caption else ""
    return (f'<table class="rc"><thead><tr>{head}</tr></thead><tbody>' + "".join(rows)
            + "</tbody></table>" + caption)

