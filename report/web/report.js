/*
 * report.js: the front end of the single HTML file that `istar report` writes.
 *
 * It reads the JSON document in <script type="application/json" id="istar-data">, then renders
 * the header, the comparison table, the charts (Apache ECharts, canvas renderer) and the trial
 * table, and publishes the test hooks. The data schema, the chart ids and the hooks are
 * documented in report/web/README.md. Plain modern JavaScript: no modules, no build step; the
 * C++ side inlines this file as the page's last <script>, after ECharts and the data.
 */
(function () {
  'use strict';

  // ---------------------------------------------------------------------------------------------
  // Errors, first of all: every failure (uncaught, rejected, or caught per chart) lands in the
  // test hook's "errors". ECharts' own errors while it loads come before this and are not seen.

  const errors = [];
  let ready = false;

  function noteError(message) {
    errors.push(String(message));
    if (ready) writeTestHook(); // a later error still reaches the hook
  }

  window.addEventListener('error', (event) => {
    const where = event.filename ? ` (${event.filename.split('/').pop()}:${event.lineno})` : '';
    noteError(`${event.message || 'error'}${where}`);
  });
  window.addEventListener('unhandledrejection', (event) => {
    const reason = event.reason;
    noteError(`unhandled rejection: ${(reason && reason.message) || String(reason)}`);
  });

  // Report an exception we caught and carry on (so one broken chart leaves the others drawn).
  function caught(context, err) {
    const message = `${context}: ${(err && err.message) || String(err)}`;
    console.error(message, err);
    noteError(message);
    return message;
  }

  // ---------------------------------------------------------------------------------------------
  // Constants.

  // The catalogue's order of regularizers (catalog/regularizers.cc, `istar regularizers`), and
  // their fixed colours; a regularizer the catalogue does not know takes the next EXTRA colour.
  const CATALOGUE = ['baseline', 'cosreg', 'istar', 'vicreg', 'uniformity', 'dispersion', 'sigreg'];
  const FIXED_COLOURS = {
    baseline: '#7f7f7f', cosreg: '#ff7f0e', istar: '#1f77b4', vicreg: '#2ca02c',
    uniformity: '#d62728', dispersion: '#9467bd', sigreg: '#8c564b',
  };
  const EXTRA_COLOURS = ['#e377c2', '#17becf', '#bcbd22', '#393b79', '#637939', '#8c6d31',
    '#843c39', '#7b4173'];
  // Lines of the lambda chart, one per zeta: viridis, cut before its pale yellow end.
  const ZETA_COLOURS = ['#440154', '#482878', '#3e4989', '#31688e', '#26828e', '#1f9e89',
    '#35b779', '#6ece58'];
  const STATUS_ORDER = ['done', 'running', 'leased', 'pending', 'failed', 'cancelled'];
  const LAYER_KEY = /^cls_isoscore_star_layer_(\d+)$/;
  // The toolbox's "SVG" button's icon: a page with a folded corner and three lines of text.
  const SVG_ICON = 'path://M4,1 L13,1 L18,6 L18,21 L4,21 Z M13,1 L13,6 L18,6 ' +
    'M7,11 L15,11 M7,14 L15,14 M7,17 L12,17';
  const CHART_HEIGHT = 360;
  const TEXT = '#1f2328';
  const MUTED = '#656d76';

  // ---------------------------------------------------------------------------------------------
  // Small helpers.

  function esc(value) {
    return String(value).replace(/[&<>"']/g, (c) => ({
      '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
    })[c]);
  }

  function isNum(x) {
    return typeof x === 'number' && Number.isFinite(x);
  }

  // A metric or isotropy value: fixed 4 decimals ("–" for none).
  function fmt4(x) {
    return isNum(x) ? x.toFixed(4) : '–';
  }

  // A hyperparameter: as short as it reads (2e-3 -> "0.002", -1 -> "-1").
  function fmtNum(x) {
    if (!isNum(x)) return '–';
    return Number.isInteger(x) ? String(x) : String(Number(x.toPrecision(4)));
  }

  // A difference: always signed, with a true minus sign.
  function fmtSigned(x) {
    if (!isNum(x)) return '–';
    const s = Math.abs(x).toFixed(4);
    return x < 0 ? `\u2212${s}` : `+${s}`;
  }

  function shortId(id) {
    return String(id || '').slice(0, 12);
  }

  function mean(values) {
    let sum = 0;
    for (const v of values) sum += v;
    return values.length ? sum / values.length : null;
  }

  // Chart ids: [A-Za-z0-9_-] only; a clash (two names that sanitize alike) gets "-2", "-3", ...
  const usedIds = new Set();
  function chartId(...parts) {
    const base = parts.map((p) => String(p).replace(/[^A-Za-z0-9_-]/g, '_')).join('-');
    let id = base;
    for (let k = 2; usedIds.has(id); k++) id = `${base}-${k}`;
    usedIds.add(id);
    return id;
  }

  function el(tag, className, html) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (html !== undefined) node.innerHTML = html;
    return node;
  }

  function sectionBody(id) {
    return document.querySelector(`#${id} > .section-body`);
  }

  function emptyLine(text) {
    return el('p', 'empty', esc(text));
  }

  // ---------------------------------------------------------------------------------------------
  // The data: parsed once, normalised so that the renderers need no defensive checks, and
  // indexed (trial by id) so that nothing below is quadratic in the number of trials.

  function loadData() {
    const node = document.getElementById('istar-data');
    const raw = JSON.parse(node ? node.textContent : '{}');
    return normalise(raw && typeof raw === 'object' ? raw : {});
  }

  function normalise(raw) {
    const comparison = raw.comparison && typeof raw.comparison === 'object' ? raw.comparison : {};
    const trials = (Array.isArray(raw.trials) ? raw.trials : []).filter((t) => t && t.id);
    for (const t of trials) {
      if (!t.final || typeof t.final !== 'object') t.final = {};
    }
    const D = {
      title: raw.title || 'istar report',
      generatedAt: raw.generated_at || '',
      database: raw.database || '',
      sweeps: Array.isArray(raw.sweeps) ? raw.sweeps : [],
      comparison: {
        split: comparison.split || '',
        selectionSplit: comparison.selection_split || comparison.split || '',
        confidence: isNum(comparison.confidence) ? comparison.confidence : 0.95,
        regularizers: Array.isArray(comparison.regularizers) ? comparison.regularizers : [],
        rows: (Array.isArray(comparison.rows) ? comparison.rows : []).filter(Boolean),
      },
      trials,
      trajectories: raw.trajectories && typeof raw.trajectories === 'object' ? raw.trajectories : {},
      // A live page's (istar dashboard): the queue, and how to ask for newer data. Null in a report.
      queue: raw.queue && typeof raw.queue === 'object' ? {
        sweeps: (Array.isArray(raw.queue.sweeps) ? raw.queue.sweeps : []).filter(Boolean),
        workers: (Array.isArray(raw.queue.workers) ? raw.queue.workers : []).filter(Boolean),
      } : null,
      live: raw.live && typeof raw.live === 'object' && raw.live.version ? {
        version: String(raw.live.version),
        refreshMs: isNum(raw.live.refresh_ms) ? Math.max(50, raw.live.refresh_ms) : 2000,
      } : null,
      trialById: new Map(),
    };
    for (const t of trials) D.trialById.set(t.id, t);
    for (const row of D.comparison.rows) {
      if (!Array.isArray(row.cells)) row.cells = [];
    }
    D.regularizers = regularizerOrder(D);
    D.colour = regularizerColours(D.regularizers);
    return D;
  }

  // Every regularizer of the document, in the catalogue's order, unknown ones after by name.
  function regularizerOrder(D) {
    const names = new Set(D.comparison.regularizers);
    for (const t of D.trials) if (t.regularizer) names.add(t.regularizer);
    const rank = (name) => {
      const i = CATALOGUE.indexOf(name);
      return i < 0 ? CATALOGUE.length : i;
    };
    return [...names].sort((a, b) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
  }

  function regularizerColours(names) {
    const colours = new Map();
    let extra = 0;
    for (const name of names) {
      colours.set(name, FIXED_COLOURS[name] || EXTRA_COLOURS[extra++ % EXTRA_COLOURS.length]);
    }
    return (name) => colours.get(name) || '#444';
  }

  // The regularizer of the i-th cell of a comparison row.
  function cellRegularizer(D, cell, i) {
    return (cell && cell.regularizer) || D.comparison.regularizers[i] || `column ${i + 1}`;
  }

  // The done trials of a comparison cell's chosen group.
  function doneTrialsOf(D, cell) {
    const out = [];
    for (const id of (cell && Array.isArray(cell.trial_ids)) ? cell.trial_ids : []) {
      const t = D.trialById.get(id);
      if (t && t.status === 'done') out.push(t);
    }
    return out;
  }

  // (model, task) pairs: the comparison's rows first, in their order, then any others the
  // trials have, in order of appearance.
  function modelTaskPairs(D) {
    const seen = new Map();
    const add = (model, task) => {
      const key = JSON.stringify([model, task]);
      if (!seen.has(key)) seen.set(key, {model, task});
    };
    for (const row of D.comparison.rows) add(row.model, row.task);
    for (const t of D.trials) add(t.model, t.task);
    return [...seen.values()];
  }

  // ---------------------------------------------------------------------------------------------
  // Header and summary.

  function statusCounts(trials) {
    const counts = new Map();
    for (const t of trials) {
      const s = t.status || 'unknown';
      counts.set(s, (counts.get(s) || 0) + 1);
    }
    const rank = (s) => (STATUS_ORDER.indexOf(s) < 0 ? STATUS_ORDER.length : STATUS_ORDER.indexOf(s));
    return [...counts.entries()].sort((a, b) => rank(a[0]) - rank(b[0]) || (a[0] < b[0] ? -1 : 1));
  }

  function renderHeader(D) {
    document.title = D.title;
    document.getElementById('page-title').textContent = D.title;
    const counts = statusCounts(D.trials);
    const chips = counts.map(([s, n]) =>
      `<span class="status status-${esc(s.replace(/[^a-z]/gi, ''))}">${esc(s)} ${n}</span>`).join(' ');
    document.getElementById('status-counts').innerHTML =
      `<span class="muted">${D.trials.length} trials</span> ${chips}`;

    const sweeps = D.sweeps.length ? D.sweeps.map((s) => `<code>${esc(s)}</code>`).join(', ') :
      '<span class="muted">none</span>';
    document.getElementById('summary').innerHTML = `
      <h1>${esc(D.title)}</h1>
      <dl class="facts">
        <dt>database</dt><dd><code>${esc(D.database || '–')}</code></dd>
        <dt>sweeps</dt><dd>${sweeps}</dd>
        <dt>generated</dt><dd>${esc(D.generatedAt || '–')}</dd>
        <dt>trials</dt><dd>${D.trials.length}${counts.length ? ': ' : ''}${chips}</dd>
      </dl>`;
  }

  // ---------------------------------------------------------------------------------------------
  // The queue (a live page only): each sweep's trials by status, the trials being run and by
  // which worker group, and the worker groups with their quarantine.

  const QUEUE_STATUSES = ['pending', 'leased', 'running', 'done', 'failed', 'cancelled'];

  function renderQueue(D) {
    const section = document.getElementById('queue');
    const nav = document.getElementById('nav-queue');
    section.hidden = !D.queue;
    document.getElementById('running').hidden = !D.queue;
    if (nav) nav.hidden = !D.queue;
    if (!D.queue) return {sweep_rows: 0, worker_rows: 0, active_rows: 0};
    const body = sectionBody('queue');
    const Q = D.queue;
    const sweepRows = Q.sweeps.map((sw) => {
      const counts = sw.by_status && typeof sw.by_status === 'object' ? sw.by_status : {};
      const total = isNum(sw.trial_count) ? sw.trial_count : 0;
      const finished = (counts.done || 0) + (counts.failed || 0) + (counts.cancelled || 0);
      const share = total > 0 ? Math.round((100 * finished) / total) : 0;
      const cells = QUEUE_STATUSES.map((st) => `<td class="num">${counts[st] ? fmtNum(counts[st]) : ''}</td>`).join('');
      return `<tr><td>${esc(sw.name || '')}</td><td><code title="${esc(sw.id || '')}">${esc(shortId(sw.id || ''))}</code></td>` +
        `<td>${esc(sw.submitted_at || '')}</td><td class="num">${fmtNum(total)}</td>${cells}` +
        `<td><span class="progress" title="${finished} of ${total} finished"><span style="width:${share}%"></span></span> ${share}%</td></tr>`;
    }).join('');
    const active = D.trials.filter((t) => t.status === 'leased' || t.status === 'running');
    const activeRows = active.map((t) =>
      `<tr><td><code title="${esc(t.id)}">${esc(shortId(t.id))}</code></td><td>${esc(t.model)}</td><td>${esc(t.task)}</td>` +
      `<td><span class="swatch" style="background:${D.colour(t.regularizer)}"></span>${esc(t.regularizer)}</td>` +
      `<td><span class="status status-${esc(t.status)}">${esc(t.status)}</span></td><td>${esc(t.worker || '')}</td>` +
      `<td class="num">${fmtNum(t.attempts)}</td></tr>`).join('');
    const workerRows = Q.workers.map((w) =>
      `<tr><td>${esc(w.id || '')}</td><td>${esc(w.host || '')}</td><td>${esc(w.last_seen_at || '')}</td>` +
      `<td class="num">${fmtNum(w.consecutive_failures)}</td>` +
      `<td>${w.quarantined ? '<span class="quarantined">quarantined</span>' : ''}</td></tr>`).join('');
    const table = (caption, head, rows, none, wide) => rows ? `
      <div class="${wide ? 'wide' : ''}"><p class="caption">${caption}</p><div class="table-wrap"><table class="queue">
        <thead><tr>${head}</tr></thead><tbody>${rows}</tbody></table></div></div>` :
      `<div class="${wide ? 'wide' : ''}"><p class="caption">${caption}</p><p class="empty">${esc(none)}</p></div>`;
    body.innerHTML = `<div class="queue-grid">
      ${table('Sweeps: their trials by status (a trial shared by two sweeps counts in both).',
        `<th>sweep</th><th>id</th><th>submitted</th><th class="num">trials</th>${QUEUE_STATUSES.map((st) =>
          `<th class="num">${st}</th>`).join('')}<th>finished</th>`, sweepRows, 'No sweep submitted.', true)}
      ${table('Trials being run: leased to a worker group, or running under istar train.',
        '<th>trial</th><th>model</th><th>task</th><th>regularizer</th><th>status</th><th>worker</th><th class="num">attempt</th>',
        activeRows, 'No trial is being run.')}
      ${table('Worker groups: last heartbeat, infrastructure failures in a row, quarantine (release with istar workers release).',
        '<th>worker</th><th>host</th><th>last seen</th><th class="num">failures</th><th></th>',
        workerRows, 'No worker group has registered.')}
    </div>`;
    return {sweep_rows: Q.sweeps.length, worker_rows: Q.workers.length, active_rows: active.length};
  }

  // ---------------------------------------------------------------------------------------------
  // The comparison table (HTML).

  function renderComparison(D) {
    const body = sectionBody('comparison');
    const C = D.comparison;
    if (!C.rows.length) {
      body.appendChild(emptyLine('No comparison rows in this database (no scored trials).'));
      return 0;
    }
    const columns = C.regularizers.length ? C.regularizers :
      C.rows[0].cells.map((cell, i) => cellRegularizer(D, cell, i));
    const pct = `${Math.round(C.confidence * 1000) / 10}%`;
    const head = columns.map((r) =>
      `<th><span class="swatch" style="background:${D.colour(r)}"></span>${esc(r)}</th>`).join('');
    const rows = C.rows.map((row) => {
      const metric = row.select_metric && row.select_metric !== row.metric ?
        `${esc(row.metric)} <span class="muted">(chosen by ${esc(row.select_metric)})</span>` :
        esc(row.metric || '');
      const cells = columns.map((_, i) => comparisonCell(row.cells[i], pct)).join('');
      return `<tr><td>${esc(row.model)}</td><td>${esc(row.task)}</td><td>${metric}</td>${cells}</tr>`;
    }).join('');
    const chosen = C.selectionSplit === C.split ?
      `chosen and reported on the <b>${esc(C.split)}</b> split (the same split: the best of many ` +
      'groups is biased upwards)' :
      `chosen on the <b>${esc(C.selectionSplit)}</b> split and reported on the <b>${esc(C.split)}</b> split`;
    body.innerHTML = `
      <p class="caption" id="comparison-caption">Each cell is the hyperparameter group (every
        setting but the seed) of its model, task and regularizer ${chosen}: mean ± sample standard
        deviation over its scored seeds (n); <i>iso</i>, the group's mean final CLS IsoScore*
        (last layer); the difference from the baseline with its ${pct} Welch interval
        (<span class="sig sig-up">✱</span> when it excludes 0), and the paired interval over the
        seeds both share. Hover a cell for its hyperparameters.</p>
      <div class="table-wrap">
      <table class="comparison" aria-describedby="comparison-caption">
        <thead><tr><th>model</th><th>task</th><th>metric</th>${head}</tr></thead>
        <tbody>${rows}</tbody>
      </table>
      </div>`;
    return C.rows.length;
  }

  function comparisonCell(cell, pct) {
    if (!cell) return '<td class="cell none" title="no trial">–</td>';
    const parts = [];
    if (isNum(cell.mean)) {
      const sd = isNum(cell.stddev) ? ` ± ${cell.stddev.toFixed(4)}` : '';
      const iso = isNum(cell.isotropy) ?
        ` <span class="iso" title="mean final CLS IsoScore* of the group">iso ${cell.isotropy.toFixed(3)}</span>` : '';
      parts.push(`<div class="c-main"><span class="mean">${cell.mean.toFixed(4)}${sd}</span> ` +
        `<span class="muted">(n=${cell.seeds ?? 0})</span>${iso}</div>`);
    } else {
      parts.push('<div class="c-main muted">no scored seeds</div>');
    }
    if (isNum(cell.difference)) {
      let line = fmtSigned(cell.difference);
      if (isNum(cell.low) && isNum(cell.high)) {
        line += ` [${fmtSigned(cell.low)}, ${fmtSigned(cell.high)}]`;
        if (cell.low > 0 || cell.high < 0) {
          const dir = cell.low > 0 ? 'up' : 'down';
          line += ` <span class="sig sig-${dir}" title="the ${pct} Welch interval excludes 0">✱</span>`;
        }
      }
      parts.push(`<div class="c-diff">${line}</div>`);
    }
    if (isNum(cell.paired_low) && isNum(cell.paired_high)) {
      parts.push(`<div class="c-diff">paired [${fmtSigned(cell.paired_low)}, ${fmtSigned(cell.paired_high)}]</div>`);
    }
    const bad = [];
    if (cell.diverged > 0) bad.push(`${cell.diverged} diverged`);
    if (cell.failed > 0) bad.push(`${cell.failed} failed`);
    if (bad.length) parts.push(`<div class="c-warn">${bad.join(', ')}</div>`);
    return `<td class="cell" title="${esc(cellTitle(cell))}">${parts.join('')}</td>`;
  }

  // The hover text of a comparison cell: the chosen hyperparameters and how they were chosen.
  function cellTitle(cell) {
    const hp = [`lambda ${fmtNum(cell.lambda)}`];
    if (cell.zeta !== null && cell.zeta !== undefined) hp.push(`zeta ${fmtNum(cell.zeta)}`);
    hp.push(`learning_rate ${fmtNum(cell.learning_rate)}`, `batch_size ${fmtNum(cell.batch_size)}`,
      `epochs ${fmtNum(cell.epochs)}`);
    const settings = cell.settings && typeof cell.settings === 'object' ?
      Object.entries(cell.settings).map(([k, v]) => `${k}=${v}`) : [];
    const lines = [`${cell.regularizer || ''}: ${hp.join(', ')}`.trim()];
    if (settings.length) lines.push(`settings: ${settings.join(', ')}`);
    lines.push(`chosen among ${cell.candidates ?? '?'} candidate(s) of ${cell.groups ?? '?'} group(s); ` +
      `${cell.seeds ?? 0} scored seed(s)`);
    return lines.join('\n');
  }

  // ---------------------------------------------------------------------------------------------
  // Chart options shared by every chart.

  function baseOption(id, title, subtitle) {
    return {
      animation: false,
      // No quotes in the font list: ECharts' SVG output puts it unescaped in a style="" attribute.
      textStyle: {fontFamily: 'system-ui, -apple-system, Segoe UI, Roboto, Helvetica, Arial, sans-serif'},
      title: {
        text: title, subtext: subtitle, left: 10, top: 6,
        textStyle: {fontSize: 14, fontWeight: 600, color: TEXT},
        subtextStyle: {fontSize: 11, color: MUTED},
      },
      toolbox: toolbox(id),
      legend: {type: 'scroll', top: 52, left: 10, right: 10, itemWidth: 18, itemHeight: 10},
      grid: {top: 92, left: 16, right: 24, bottom: 16},
      tooltip: {confine: true},
    };
  }

  function toolbox(id) {
    return {
      right: 8, top: 6, itemSize: 14,
      feature: {
        saveAsImage: {type: 'png', pixelRatio: 2, name: id, title: 'PNG', backgroundColor: '#fff'},
        // Custom toolbox features must be named my*; this one exports through a hidden SVG chart.
        myExportSvg: {show: true, title: 'SVG', icon: SVG_ICON, onclick: () => downloadChart(id, 'svg')},
      },
    };
  }

  function valueAxis(name, extra) {
    return Object.assign({
      type: 'value', name, nameLocation: 'middle', nameGap: 30,
      nameTextStyle: {color: MUTED}, splitLine: {lineStyle: {color: '#eef0f2'}},
      // Axes at the grid's edge, not at the other axis' zero (lambda runs through 0).
      axisLine: {onZero: false, show: true, lineStyle: {color: '#8c959f'}},
    }, extra || {});
  }

  // ---------------------------------------------------------------------------------------------
  // The trials being run (a live page only): one line per trial, per (model, task).

  function runningSpecs(D) {
    if (!D.queue) return [];
    const groups = new Map();
    for (const t of D.trials) {
      if ((t.status !== 'leased' && t.status !== 'running') || !D.trajectories[t.id]) continue;
      const key = JSON.stringify([t.model, t.task]);
      if (!groups.has(key)) groups.set(key, {model: t.model, task: t.task, trials: []});
      groups.get(key).trials.push(t);
    }
    return [...groups.values()].map((g) =>
      guardedSpec('running', ['running', g.model, g.task], (id) => runningChart(D, g, id))).filter(Boolean);
  }

  function runningChart(D, group, id) {
    let points = 0;
    // Trials of one regularizer share its colour; their line styles tell them apart.
    const styles = ['solid', 'dashed', 'dotted'];
    const seen = new Map();
    const series = group.trials.map((t) => {
      const k = seen.get(t.regularizer) || 0;
      seen.set(t.regularizer, k + 1);
      const tr = D.trajectories[t.id];
      const data = [];
      for (let i = 0; i < tr.step.length; i++) {
        if (isNum(tr.step[i]) && isNum(tr.isoscore_star[i])) data.push([tr.step[i], tr.isoscore_star[i]]);
      }
      points += data.length;
      const zeta = t.regularizer === 'istar' ? ` ζ ${fmtNum(t.zeta)}` : '';
      const lambda = t.regularizer === 'baseline' ? '' : ` λ ${fmtNum(t.lambda)}`;
      return {
        name: `${t.regularizer}${lambda}${zeta} seed ${t.seed} · ${shortId(t.id)}`, type: 'line',
        showSymbol: data.length < 30, color: D.colour(t.regularizer),
        lineStyle: {type: styles[k % styles.length]}, data,
      };
    });
    const option = baseOption(id, `${group.model} · ${group.task}`, 'IsoScore* of the union of layers, so far');
    option.legend.data = series.map((s) => s.name);
    option.xAxis = valueAxis('step', {min: 'dataMin', max: 'dataMax', axisLabel: {hideOverlap: true}});
    option.yAxis = valueAxis('IsoScore* (all layers)', {nameGap: 44});
    option.tooltip = {trigger: 'axis', confine: true, valueFormatter: fmt4};
    option.series = series;
    return {option, series: series.length, points};
  }

  // ---------------------------------------------------------------------------------------------
  // 3. Isotropy over training: per (model, task), each regularizer's chosen group, mean over its
  // done seeds at each step with a min-max band.

  // Align trajectories by step value: the union of their steps, each step's mean, min and max
  // over the trials that have it (steps rarely differ: a last, shorter epoch).
  function aggregateByStep(trajectories, key) {
    const byStep = new Map();
    for (const tr of trajectories) {
      const steps = Array.isArray(tr.step) ? tr.step : [];
      const values = Array.isArray(tr[key]) ? tr[key] : [];
      for (let i = 0; i < steps.length; i++) {
        const s = steps[i];
        const v = values[i];
        if (!isNum(s) || !isNum(v)) continue;
        let a = byStep.get(s);
        if (!a) byStep.set(s, a = {sum: 0, n: 0, min: Infinity, max: -Infinity});
        a.sum += v;
        a.n++;
        if (v < a.min) a.min = v;
        if (v > a.max) a.max = v;
      }
    }
    const steps = [...byStep.keys()].sort((a, b) => a - b);
    return steps.map((s) => {
      const a = byStep.get(s);
      return {step: s, mean: a.sum / a.n, min: a.min, max: a.max, n: a.n};
    });
  }

  function trajectorySpecs(D) {
    const specs = [];
    for (const row of D.comparison.rows) {
      specs.push(guardedSpec('trajectory', ['traj', row.model, row.task], (id) => trajectoryChart(D, row, id)));
    }
    return specs.filter(Boolean);
  }

  function trajectoryChart(D, row, id) {
    const series = [];
    const bands = new Map(); // series id -> aggregated points, for the tooltip
    let drawn = 0;
    let points = 0;
    row.cells.forEach((cell, i) => {
      if (!cell) return;
      const reg = cellRegularizer(D, cell, i);
      const trajs = doneTrialsOf(D, cell).map((t) => D.trajectories[t.id]).filter(Boolean);
      const agg = aggregateByStep(trajs, 'isoscore_star');
      if (!agg.length) return;
      const colour = D.colour(reg);
      const mainId = `mean:${reg}`;
      bands.set(mainId, agg);
      drawn++;
      points += agg.length;
      // All three series share the regularizer's name, so its legend entry toggles line and band
      // together; the legend takes its colour from the first (the line). The band is the
      // transparent lower line plus a stacked area of (max - min) on top of it.
      series.push({
        id: mainId, name: reg, type: 'line', z: 3, showSymbol: false, symbolSize: 5,
        color: colour, lineStyle: {width: 2}, data: agg.map((p) => [p.step, p.mean]),
      });
      if (agg.some((p) => p.max > p.min)) {
        const band = {
          // stackStrategy 'all': the default stacks only values of one sign, which would draw
          // the band of a line below 0 from 0.
          type: 'line', name: reg, stack: `band:${reg}`, stackStrategy: 'all', symbol: 'none',
          silent: true, z: 1,
          lineStyle: {opacity: 0}, emphasis: {disabled: true}, tooltip: {show: false}, color: colour,
        };
        series.push(Object.assign({id: `low:${reg}`, data: agg.map((p) => [p.step, p.min])}, band));
        series.push(Object.assign({
          id: `band:${reg}`, areaStyle: {color: colour, opacity: 0.15},
          data: agg.map((p) => [p.step, p.max - p.min]),
        }, band));
      }
    });
    if (!drawn) return null;
    const option = baseOption(id, `${row.model} · ${row.task}`,
      'IsoScore* of the union of layers; mean over the chosen group\'s done seeds, band min–max');
    option.legend.data = series.filter((s) => s.id.startsWith('mean:')).map((s) => s.name);
    option.xAxis = valueAxis('step', {min: 'dataMin', max: 'dataMax', axisLabel: {hideOverlap: true}});
    option.yAxis = valueAxis('IsoScore* (all layers)', {nameGap: 44});
    option.tooltip = {
      trigger: 'axis', confine: true,
      formatter: (params) => trajectoryTooltip(params, bands),
    };
    option.series = series;
    return {option, series: drawn, points};
  }

  function trajectoryTooltip(params, bands) {
    const lines = [];
    let step = null;
    for (const p of params) {
      const agg = bands.get(p.seriesId);
      if (!agg) continue; // a band helper
      const a = agg[p.dataIndex];
      step = a.step;
      lines.push(`${p.marker}${esc(p.seriesName)}: <b>${fmt4(a.mean)}</b> ` +
        `<span style="color:${MUTED}">min ${fmt4(a.min)} · max ${fmt4(a.max)} · n=${a.n}</span>`);
    }
    return `step ${step === null ? '' : step}<br>${lines.join('<br>')}`;
  }

  // ---------------------------------------------------------------------------------------------
  // 4. Per-layer isotropy profile: per (model, task), each regularizer's chosen group's mean
  // final cls_isoscore_star_layer_<k>, k = 1..L.

  function layerSpecs(D) {
    const specs = [];
    for (const row of D.comparison.rows) {
      specs.push(guardedSpec('layers', ['layers', row.model, row.task], (id) => layerChart(D, row, id)));
    }
    return specs.filter(Boolean);
  }

  function layerChart(D, row, id) {
    const groups = [];
    let layers = 0;
    row.cells.forEach((cell, i) => {
      if (!cell) return;
      const trials = doneTrialsOf(D, cell);
      if (!trials.length) return;
      for (const t of trials) {
        for (const key of Object.keys(t.final)) {
          const m = LAYER_KEY.exec(key);
          if (m) layers = Math.max(layers, Number(m[1]));
        }
      }
      groups.push({reg: cellRegularizer(D, cell, i), trials});
    });
    if (!layers) return null;
    const series = [];
    let points = 0;
    for (const {reg, trials} of groups) {
      const data = [];
      for (let k = 1; k <= layers; k++) {
        const values = trials.map((t) => t.final[`cls_isoscore_star_layer_${k}`]).filter(isNum);
        data.push(values.length ? mean(values) : null);
      }
      const n = data.filter(isNum).length;
      if (!n) continue;
      points += n;
      series.push({
        name: reg, type: 'line', data, color: D.colour(reg), symbol: 'circle', symbolSize: 7,
        lineStyle: {width: 2}, connectNulls: false,
      });
    }
    if (!series.length) return null;
    const option = baseOption(id, `${row.model} · ${row.task}`,
      'final CLS IsoScore* per layer; mean over the chosen group\'s done seeds');
    option.xAxis = {
      type: 'category', name: 'layer', nameLocation: 'middle', nameGap: 28,
      nameTextStyle: {color: MUTED}, boundaryGap: false,
      data: Array.from({length: layers}, (_, k) => String(k + 1)),
    };
    option.yAxis = valueAxis('IsoScore* (final, CLS)', {nameGap: 44});
    option.tooltip = {
      trigger: 'axis', confine: true,
      formatter: (params) => `layer ${esc(params[0] ? params[0].axisValue : '')}<br>` + params.map((p) =>
        `${p.marker}${esc(p.seriesName)}: <b>${fmt4(p.value)}</b>`).join('<br>'),
    };
    option.series = series;
    return {option, series: series.length, points};
  }

  // ---------------------------------------------------------------------------------------------
  // 5. Performance against final isotropy (the paper's Fig. 3): per task, every done trial.

  function performanceSpecs(D) {
    const tasks = [];
    for (const {task} of modelTaskPairs(D)) if (!tasks.includes(task)) tasks.push(task);
    return tasks.map((task) =>
      guardedSpec('performance', ['perf', task], (id) => performanceChart(D, task, id))).filter(Boolean);
  }

  function performanceChart(D, task, id) {
    const byReg = new Map();
    const metricNames = new Set();
    for (const t of D.trials) {
      if (t.task !== task || t.status !== 'done') continue;
      const x = t.final.cls_isoscore_star;
      if (!isNum(x) || !isNum(t.metric)) continue;
      if (!byReg.has(t.regularizer)) byReg.set(t.regularizer, []);
      byReg.get(t.regularizer).push(t);
      if (t.metric_name) metricNames.add(t.metric_name);
    }
    if (!byReg.size) return null;
    const series = [];
    const trialsOf = []; // per series index: its trials, for the tooltip
    let points = 0;
    for (const reg of D.regularizers) {
      const trials = byReg.get(reg);
      if (!trials) continue;
      // Flat typed-array data: what ECharts' large mode reads fastest (10^5 points and more).
      const data = new Float64Array(trials.length * 2);
      trials.forEach((t, i) => {
        data[2 * i] = t.final.cls_isoscore_star;
        data[2 * i + 1] = t.metric;
      });
      trialsOf.push(trials);
      points += trials.length;
      series.push({
        name: reg, type: 'scatter', data, dimensions: ['x', 'y'], color: D.colour(reg),
        symbolSize: 6, itemStyle: {opacity: 0.75},
        large: true, largeThreshold: 2000, progressive: 20000, progressiveThreshold: 20000,
        emphasis: {disabled: true},
      });
    }
    // Smaller series on top, so that a few baseline points are not buried under I-STAR's grid.
    const bySize = series.map((s, i) => i).sort((a, b) => trialsOf[b].length - trialsOf[a].length);
    bySize.forEach((i, rank) => {
      series[i].z = 2 + rank;
    });
    const metric = [...metricNames].join(' / ') || 'metric';
    const option = baseOption(id, task,
      `every done trial (${points}); ${metric} against final CLS IsoScore*`);
    option.xAxis = valueAxis('final CLS IsoScore* (last layer)', {scale: true});
    option.yAxis = valueAxis(metric, {scale: true, nameGap: 44});
    option.tooltip = {
      trigger: 'item', confine: true,
      formatter: (p) => performanceTooltip(trialsOf[p.seriesIndex], p),
    };
    option.series = series;
    return {option, series: series.length, points};
  }

  function performanceTooltip(trials, p) {
    const t = trials && trials[p.dataIndex];
    if (!t) return '';
    const zeta = t.zeta === null || t.zeta === undefined ? '' : `, ζ ${fmtNum(t.zeta)}`;
    return `${p.marker}<b>${esc(t.regularizer)}</b> ${esc(t.model)}<br>` +
      `λ ${fmtNum(t.lambda)}${zeta}, seed ${esc(t.seed)}<br>` +
      `${esc(t.metric_name || 'metric')} ${fmt4(t.metric)} · IsoScore* ${fmt4(t.final.cls_isoscore_star)}<br>` +
      `<span style="color:${MUTED}">${esc(shortId(t.id))}</span>`;
  }

  // ---------------------------------------------------------------------------------------------
  // 6. Metric against lambda: per (model, task) with I-STAR trials, the mean metric of the done
  // trials of each (lambda, zeta), every other setting pooled; one line per zeta.

  function lambdaSpecs(D) {
    // One pass over the trials: (model, task) -> zeta -> lambda -> metrics.
    const cells = new Map();
    for (const t of D.trials) {
      if (t.regularizer !== 'istar' || t.status !== 'done' || !isNum(t.metric) || !isNum(t.lambda)) continue;
      const key = JSON.stringify([t.model, t.task]);
      if (!cells.has(key)) cells.set(key, {metric: t.metric_name, zetas: new Map()});
      const zetas = cells.get(key).zetas;
      const zeta = isNum(t.zeta) ? t.zeta : null;
      if (!zetas.has(zeta)) zetas.set(zeta, new Map());
      const lambdas = zetas.get(zeta);
      if (!lambdas.has(t.lambda)) lambdas.set(t.lambda, []);
      lambdas.get(t.lambda).push(t.metric);
    }
    const specs = [];
    for (const {model, task} of modelTaskPairs(D)) {
      const cell = cells.get(JSON.stringify([model, task]));
      if (!cell) continue;
      specs.push(guardedSpec('lambda', ['lambda', model, task], (id) => lambdaChart(model, task, cell, id)));
    }
    return specs.filter(Boolean);
  }

  function lambdaChart(model, task, cell, id) {
    const zetas = [...cell.zetas.keys()].sort((a, b) => (a === null) - (b === null) || a - b);
    let points = 0;
    const series = zetas.map((zeta, i) => {
      const lambdas = cell.zetas.get(zeta);
      const data = [...lambdas.keys()].sort((a, b) => a - b)
        .map((lambda) => [lambda, mean(lambdas.get(lambda)), lambdas.get(lambda).length]);
      points += data.length;
      const shade = zetas.length === 1 ? 3 :
        Math.round((i / (zetas.length - 1)) * (ZETA_COLOURS.length - 1));
      return {
        name: zeta === null ? 'zeta –' : `zeta ${fmtNum(zeta)}`, type: 'line', data,
        color: ZETA_COLOURS[shade], symbol: 'circle', symbolSize: 7, lineStyle: {width: 2},
      };
    });
    const metric = cell.metric || 'metric';
    const option = baseOption(id, `${model} · ${task}`,
      `I-STAR: mean ${metric} over seeds (other settings pooled) against lambda`);
    option.xAxis = valueAxis('lambda', {scale: true});
    option.yAxis = valueAxis(metric, {scale: true, nameGap: 44});
    option.tooltip = {
      trigger: 'axis', confine: true,
      formatter: (params) => `λ ${fmtNum(params[0] && params[0].value[0])}<br>` + params.map((p) =>
        `${p.marker}${esc(p.seriesName)}: <b>${fmt4(p.value[1])}</b> ` +
        `<span style="color:${MUTED}">n=${p.value[2]}</span>`).join('<br>'),
    };
    option.series = series;
    return {option, series: series.length, points};
  }

  // Build one chart's spec; a builder that throws still yields a spec (drawn as a failed card,
  // listed in the hook with zero series) so that the others go on.
  function guardedSpec(kind, idParts, build) {
    const id = chartId(...idParts);
    try {
      const built = build(id);
      if (!built) {
        usedIds.delete(id);
        return null;
      }
      return Object.assign({id, kind}, built);
    } catch (err) {
      return {id, kind, option: null, series: 0, points: 0, failure: caught(`chart ${id}`, err)};
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Charts: cards in a grid, then ECharts instances; the ready hook waits for all of them.

  const charts = []; // {id, kind, option, series, points, chart, nonblank, card}
  const chartById = new Map();

  const SECTIONS = [
    {id: 'running', build: runningSpecs,
      about: 'Per model and task, each trial being run (leased or running): IsoScore* of the union of all layers so far.',
      none: () => 'No trial is being run, or none has logged its isotropy yet.'},
    {id: 'trajectories', build: trajectorySpecs,
      about: 'Per model and task, each regularizer\'s chosen group (comparison table): IsoScore* of the union of all layers during training.',
      none: (D) => (Object.keys(D.trajectories).length ? 'No trajectories for the comparison\'s chosen groups.' :
        'No isotropy trajectories in this database.')},
    {id: 'layers', build: layerSpecs,
      about: 'Per model and task, each regularizer\'s chosen group: final CLS IsoScore* of each layer.',
      none: () => 'No per-layer final isotropy (cls_isoscore_star_layer_k) for the chosen groups.'},
    {id: 'performance', build: performanceSpecs,
      about: 'Per task, every done trial: its metric against its final CLS IsoScore*.',
      none: () => 'No done trial with both a metric and a final cls_isoscore_star.'},
    {id: 'lambda', build: lambdaSpecs,
      about: 'Per model and task, I-STAR\'s done trials: mean metric over seeds for each lambda, one line per zeta.',
      none: () => 'No done I-STAR trial with a metric in this database.'},
  ];

  // Builds the cards of every chart; a chart of the previous render (a live page's) with the same
  // id keeps its card and its ECharts instance, which initCharts gives the new option.
  function buildChartCards(D) {
    const previous = new Map(chartById);
    charts.length = 0;
    chartById.clear();
    for (const section of SECTIONS) {
      const body = sectionBody(section.id);
      let specs = [];
      try {
        specs = section.build(D);
      } catch (err) {
        body.appendChild(emptyLine(caught(`section ${section.id}`, err)));
        continue;
      }
      if (!specs.length) {
        body.appendChild(emptyLine(section.none(D)));
        continue;
      }
      body.appendChild(el('p', 'about', esc(section.about)));
      const grid = el('div', 'chart-grid');
      for (const spec of specs) {
        const old = previous.get(spec.id);
        previous.delete(spec.id);
        let entry;
        if (old && old.chart && spec.option) {
          entry = Object.assign(old, {failure: undefined}, spec);
        } else {
          if (old && old.chart) old.chart.dispose();
          const card = el('figure', 'card');
          const holder = el('div', 'chart');
          holder.id = `chart-${spec.id}`;
          holder.style.height = `${CHART_HEIGHT}px`;
          card.appendChild(holder);
          card.appendChild(el('figcaption', 'card-id', `<code>${esc(spec.id)}</code>`));
          entry = Object.assign({chart: null, nonblank: 0, holder, card}, spec);
        }
        grid.appendChild(entry.card);
        charts.push(entry);
        chartById.set(entry.id, entry);
      }
      body.appendChild(grid);
    }
    for (const gone of previous.values()) if (gone.chart) gone.chart.dispose();
  }

  // Resolves once the chart reports 'finished' (its progressive rendering done, too). The
  // listener goes on before setOption, which may render and finish synchronously.
  function whenFinished(chart) {
    return new Promise((resolve) => {
      let timer = 0;
      const finish = () => {
        clearTimeout(timer);
        chart.off('finished', finish);
        resolve();
      };
      chart.on('finished', finish);
      timer = setTimeout(finish, 20000); // never hang the ready hook on a chart that does not finish
    });
  }

  function initChart(entry) {
    if (!entry.option) {
      entry.holder.classList.add('failed');
      entry.holder.textContent = entry.failure || 'chart failed';
      return null;
    }
    try {
      if (entry.chart) {
        // A live page's update: the new option replaces the old one, without the animation that
        // would replay on every refresh.
        const finished = whenFinished(entry.chart);
        entry.chart.setOption(Object.assign({}, entry.option, {animation: false}), {notMerge: true});
        return finished;
      }
      const chart = echarts.init(entry.holder, null, {renderer: 'canvas'});
      entry.chart = chart;
      const finished = whenFinished(chart);
      chart.setOption(entry.option);
      return finished;
    } catch (err) {
      entry.series = 0;
      entry.points = 0;
      entry.holder.classList.add('failed');
      entry.holder.textContent = caught(`chart ${entry.id}`, err);
      return null;
    }
  }

  // Every chart in one go: drawing them in slices with a yield to the browser between slices was
  // measured twice as slow to ready (each yield lays out and paints the page). Resolves when every
  // chart has finished.
  function initCharts() {
    const finished = [];
    for (const entry of charts) {
      const done = initChart(entry);
      if (done) finished.push(done);
    }
    return Promise.all(finished);
  }

  let resizeTimer = 0;
  window.addEventListener('resize', () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      for (const entry of charts) if (entry.chart) entry.chart.resize();
    }, 100);
  });

  // Pixels of the chart's (first) canvas that are drawn: alpha > 0 and not near-white.
  function countNonBlank(chart) {
    const canvas = chart.getDom().querySelector('canvas');
    if (!canvas || !canvas.width || !canvas.height) return 0;
    // Read from a copy made for reading: a live page measures each chart again after each update,
    // and reading ECharts' own canvas again and again makes Chromium warn on the console.
    const copy = document.createElement('canvas');
    copy.width = canvas.width;
    copy.height = canvas.height;
    const context = copy.getContext('2d', {willReadFrequently: true});
    context.drawImage(canvas, 0, 0);
    const px = context.getImageData(0, 0, canvas.width, canvas.height).data;
    let n = 0;
    for (let i = 0; i < px.length; i += 4) {
      if (px[i + 3] > 0 && (px[i] < 240 || px[i + 1] < 240 || px[i + 2] < 240)) n++;
    }
    return n;
  }

  // ---------------------------------------------------------------------------------------------
  // Export: PNG from the canvas chart, SVG from a hidden SVG-rendered twin of it.

  // The option of the SVG twin: no toolbox, a white background, no progressive rendering (the
  // twin is read synchronously, so every point must be drawn by the first render).
  function exportOption(option) {
    const series = (option.series || []).map((s) => Object.assign({}, s, {progressive: 0}));
    return Object.assign({}, option, {
      animation: false, backgroundColor: '#fff', toolbox: {show: false}, series,
    });
  }

  function svgDataUrl(entry) {
    const width = entry.chart.getWidth();
    const height = entry.chart.getHeight();
    const div = document.createElement('div');
    div.style.cssText = `position:absolute;left:-100000px;top:0;width:${width}px;height:${height}px;visibility:hidden`;
    document.body.appendChild(div);
    let twin = null;
    try {
      twin = echarts.init(div, null, {renderer: 'svg', width, height});
      twin.setOption(exportOption(entry.option));
      return twin.getDataURL({type: 'svg'});
    } finally {
      if (twin) twin.dispose();
      div.remove();
    }
  }

  // window.istarExportChart(id, 'png' | 'svg'): the chart's image as a data URL.
  function exportChart(id, type) {
    const entry = chartById.get(id);
    if (!entry || !entry.chart) throw new Error(`no chart with id ${id}`);
    if (type === 'png') {
      return entry.chart.getDataURL({
        type: 'png', pixelRatio: 2, backgroundColor: '#fff', excludeComponents: ['toolbox'],
      });
    }
    if (type === 'svg') return svgDataUrl(entry);
    throw new Error(`unknown image type ${type} (png or svg)`);
  }

  function downloadChart(id, type) {
    try {
      const a = document.createElement('a');
      a.href = exportChart(id, type);
      a.download = `${id}.${type}`;
      document.body.appendChild(a);
      a.click();
      a.remove();
    } catch (err) {
      caught(`export ${id}`, err);
    }
  }

  window.istarExportChart = exportChart;

  // ---------------------------------------------------------------------------------------------
  // 7. The trial table: the body is set with one innerHTML of the rows that match the filter, in
  // the sort order, at most TRIAL_ROW_LIMIT of them (a database of 10^5 trials would otherwise
  // build a DOM of millions of cells). A row's HTML is built once, when first shown.

  const TRIAL_ROW_LIMIT = 10000;
  // The filter and the sort, kept across a live page's renders.
  const trialView = {filter: '', sort: {col: -1, dir: 1}, focused: false};

  function trialColumns(D) {
    const status = (t) => esc(String(t.status).replace(/[^a-z]/gi, ''));
    return [
      {label: 'id', get: (t) => t.id, html: (t) => `<code title="${esc(t.id)}">${esc(shortId(t.id))}</code>`},
      {label: 'model', get: (t) => t.model},
      {label: 'task', get: (t) => t.task},
      {label: 'regularizer', get: (t) => t.regularizer,
        html: (t) => `<span class="swatch" style="background:${D.colour(t.regularizer)}"></span>${esc(t.regularizer ?? '')}`},
      {label: 'lambda', num: true, get: (t) => t.lambda, html: (t) => fmtNum(t.lambda)},
      {label: 'zeta', num: true, get: (t) => t.zeta, html: (t) => fmtNum(t.zeta)},
      {label: 'lr', num: true, get: (t) => t.learning_rate, html: (t) => fmtNum(t.learning_rate)},
      {label: 'batch', num: true, get: (t) => t.batch_size, html: (t) => fmtNum(t.batch_size)},
      {label: 'epochs', num: true, get: (t) => t.epochs, html: (t) => fmtNum(t.epochs)},
      {label: 'seed', num: true, get: (t) => t.seed, html: (t) => fmtNum(t.seed)},
      {label: 'status', get: (t) => t.status,
        html: (t) => `<span class="status status-${status(t)}">${esc(t.status ?? '')}</span>`},
      {label: 'attempts', num: true, get: (t) => t.attempts, html: (t) => fmtNum(t.attempts)},
      {label: 'metric', num: true, get: (t) => t.metric,
        html: (t) => `<span title="${esc(t.metric_name || '')}">${fmt4(t.metric)}</span>`},
      {label: 'IsoScore*', num: true, get: (t) => t.final.cls_isoscore_star,
        html: (t) => fmt4(t.final.cls_isoscore_star)},
      {label: 'error', get: (t) => t.error || '', html: (t) => errorHtml(t.error)},
    ];
  }

  function errorHtml(error) {
    if (!error) return '';
    const text = String(error);
    const short = text.length > 60 ? `${text.slice(0, 57)}…` : text;
    return `<span class="error" title="${esc(text)}">${esc(short)}</span>`;
  }

  function trialRowHtml(columns, t) {
    return `<tr>${columns.map((c) => {
      const v = c.html ? c.html(t) : esc(c.get(t) ?? '');
      return c.num ? `<td class="num">${v}</td>` : `<td>${v}</td>`;
    }).join('')}</tr>`;
  }

  function renderTrials(D) {
    const body = sectionBody('trials');
    const trials = D.trials;
    if (!trials.length) {
      body.appendChild(emptyLine('No trials in this database.'));
      return 0;
    }
    const columns = trialColumns(D);
    const rowHtml = new Array(trials.length); // filled as rows are first shown
    // What the filter matches: the full id and every shown value, lower case.
    const rowText = trials.map((t) => columns.map((c) => {
      const v = c.get(t);
      return v === null || v === undefined ? '' : String(v);
    }).join(' ').toLowerCase());

    body.innerHTML = `
      <div class="table-tools">
        <input type="search" class="filter" placeholder="Filter trials (all words must match)…"
          aria-label="Filter trials">
        <span class="muted filter-count"></span>
      </div>
      <div class="table-wrap scroll">
      <table class="trials">
        <thead><tr>${columns.map((c, i) =>
          `<th data-col="${i}" class="${c.num ? 'num ' : ''}sortable" title="sort">${esc(c.label)}</th>`).join('')}</tr></thead>
        <tbody></tbody>
      </table>
      </div>`;
    const tbody = body.querySelector('tbody');
    const input = body.querySelector('.filter');
    const count = body.querySelector('.filter-count');
    let sort = trialView.sort;
    let order = sort.col >= 0 && sort.col < columns.length ?
      sortedOrder(trials, columns[sort.col], sort.dir) : trials.map((_, i) => i);
    input.value = trialView.filter;
    if (sort.col >= 0) {
      const th = body.querySelector(`th[data-col="${sort.col}"]`);
      if (th) th.setAttribute('aria-sort', sort.dir > 0 ? 'ascending' : 'descending');
    }
    if (trialView.focused) input.focus();
    input.addEventListener('focus', () => { trialView.focused = true; });
    input.addEventListener('blur', () => { trialView.focused = false; });

    // Returns the number of rows put in the table.
    const draw = () => {
      const words = input.value.toLowerCase().split(/\s+/).filter(Boolean);
      const matching = words.length ?
        order.filter((i) => words.every((w) => rowText[i].includes(w))) : order;
      const shown = matching.length > TRIAL_ROW_LIMIT ? matching.slice(0, TRIAL_ROW_LIMIT) : matching;
      tbody.innerHTML = shown.map((i) => rowHtml[i] ??= trialRowHtml(columns, trials[i])).join('');
      count.textContent = `${matching.length} of ${trials.length} trials` +
        (shown.length < matching.length ? ` (the first ${shown.length} shown; filter or sort to see others)` : '');
      return shown.length;
    };
    let filterTimer = 0;
    input.addEventListener('input', () => {
      trialView.filter = input.value;
      clearTimeout(filterTimer);
      filterTimer = setTimeout(draw, 120);
    });
    body.querySelector('thead').addEventListener('click', (event) => {
      const th = event.target.closest('th[data-col]');
      if (!th) return;
      const col = Number(th.dataset.col);
      sort = {col, dir: sort.col === col ? -sort.dir : 1};
      trialView.sort = sort;
      order = sortedOrder(trials, columns[col], sort.dir);
      for (const h of body.querySelectorAll('th[data-col]')) h.removeAttribute('aria-sort');
      th.setAttribute('aria-sort', sort.dir > 0 ? 'ascending' : 'descending');
      draw();
    });
    return draw();
  }

  // Indices of the trials sorted by one column; missing values last in both directions.
  function sortedOrder(trials, column, dir) {
    const keys = trials.map((t) => column.get(t));
    const missing = (v) => v === null || v === undefined || v === '';
    return trials.map((_, i) => i).sort((a, b) => {
      const x = keys[a];
      const y = keys[b];
      if (missing(x) || missing(y)) return missing(x) - missing(y) || a - b;
      const c = column.num ? x - y : String(x).localeCompare(String(y));
      return c * dir || a - b;
    });
  }

  // ---------------------------------------------------------------------------------------------
  // The test hook (see README.md, "Test hooks").

  const tables = {comparison_rows: 0, trial_rows: 0};
  const queueRows = {sweep_rows: 0, worker_rows: 0, active_rows: 0};
  // A live page's history: the data version and the trajectory charts' points after each render
  // (the first included), and the state of its last question.
  const liveHook = {state: null, versions: [], trajectory_points: []};

  function writeTestHook() {
    const hook = {
      errors: errors.slice(),
      charts: charts.map((c) => ({
        id: c.id, kind: c.kind, series: c.series, points: c.points, nonblank: c.nonblank,
      })),
      tables: {comparison_rows: tables.comparison_rows, trial_rows: tables.trial_rows},
      queue: Object.assign({}, queueRows),
      live: {state: liveHook.state, versions: liveHook.versions.slice(),
        trajectory_points: liveHook.trajectory_points.slice()},
      // Milliseconds from the navigation's start to every chart drawn (bench/run_report.sh).
      ready_ms: readyMs,
    };
    const pre = document.getElementById('istar-test');
    if (pre) pre.textContent = JSON.stringify(hook);
  }

  let readyMs = null;

  function measureCharts() {
    for (const entry of charts) {
      if (!entry.chart) continue;
      try {
        entry.nonblank = countNonBlank(entry.chart);
      } catch (err) {
        caught(`pixels of ${entry.id}`, err);
      }
    }
  }

  function signalReady() {
    readyMs = Math.round(performance.now());
    measureCharts();
    ready = true;
    if (location.hash === '#figures') writeFigures();
    writeTestHook();
    document.documentElement.dataset.istarReady = '1';
  }

  // `istar report --figures DIR` opens the page as report.html#figures in headless Chromium and
  // reads every chart's PNG and SVG from #istar-figures in the DOM it dumps (a headless page
  // cannot write files itself): {"<chart id>": {"png": "data:...", "svg": "data:..."}, ...}.
  function writeFigures() {
    const figures = {};
    for (const entry of charts) {
      if (!entry.chart) continue;
      try {
        figures[entry.id] = {png: exportChart(entry.id, 'png'), svg: exportChart(entry.id, 'svg')};
      } catch (err) {
        caught(`figure ${entry.id}`, err);
      }
    }
    let pre = document.getElementById('istar-figures');
    if (!pre) {
      pre = document.createElement('pre');
      pre.id = 'istar-figures';
      pre.hidden = true;
      document.body.appendChild(pre);
    }
    pre.textContent = JSON.stringify(figures);
  }

  // ---------------------------------------------------------------------------------------------
  // Main.

  function step(name, fn) {
    try {
      return fn();
    } catch (err) {
      caught(name, err);
      return undefined;
    }
  }

  // Renders everything from D; resolves when every chart has finished drawing. A live page
  // calls it again with each newer data set: the sections are rebuilt, the charts kept.
  function render(D) {
    usedIds.clear();
    for (const body of document.querySelectorAll('.section-body')) body.replaceChildren();
    step('header', () => renderHeader(D));
    Object.assign(queueRows, step('queue', () => renderQueue(D)) || {});
    tables.comparison_rows = step('comparison table', () => renderComparison(D)) || 0;
    step('charts', () => buildChartCards(D));
    tables.trial_rows = step('trial table', () => renderTrials(D)) || 0;
    if (typeof echarts === 'undefined') {
      caught('charts', new Error('ECharts is not loaded'));
      return Promise.resolve();
    }
    return (step('charts', initCharts) || Promise.resolve()).catch((err) => caught('charts', err));
  }

  function noteRender(D) {
    if (!D.live) return;
    liveHook.versions.push(D.live.version);
    liveHook.trajectory_points.push(charts.filter((c) => c.kind === 'trajectory')
      .reduce((sum, c) => sum + (c.points || 0), 0));
  }

  function setLiveState(state, text) {
    liveHook.state = state;
    const node = document.getElementById('live-state');
    if (!node) return;
    node.hidden = false;
    node.className = `live-state ${state === 'live' ? 'live-ok' : 'live-error'}`;
    node.textContent = text;
  }

  // Note [Live page]
  // A page served by `istar dashboard` asks GET api/data?after=VERSION; the server holds the
  // question until the database changes (200 and the new data) or its wait ends (204). The page
  // asks again refresh_ms after each answer, so a quiet database costs one held request per page,
  // and new rows show within the server's check interval. The token, if the page's URL has one,
  // goes with every question as a bearer token. Errors keep the last data on screen and retry.
  function startLive(first) {
    const token = new URLSearchParams(location.search).get('token');
    const headers = token ? {Authorization: `Bearer ${token}`} : {};
    let version = first.live.version;
    const refreshMs = first.live.refreshMs;
    const when = () => new Date().toLocaleTimeString();
    setLiveState('live', `live · ${when()}`);
    const ask = async () => {
      let delay = refreshMs;
      try {
        const response = await fetch(`api/data?after=${encodeURIComponent(version)}`,
          {headers, cache: 'no-store'});
        if (response.status === 200) {
          const next = normalise(await response.json());
          if (next.live) version = next.live.version;
          await render(next);
          measureCharts();
          noteRender(next);
          setLiveState('live', `live · updated ${when()}`);
        } else if (response.status === 204) {
          setLiveState('live', `live · ${when()}`);
        } else {
          setLiveState('error', `HTTP ${response.status}: ${(await response.text()).trim().slice(0, 120)}`);
          delay = Math.max(refreshMs, 5000);
        }
      } catch (err) {
        setLiveState('error', `no answer from the dashboard (${(err && err.message) || err}); retrying`);
        delay = Math.max(refreshMs, 5000);
      }
      writeTestHook();
      setTimeout(ask, delay);
    };
    setTimeout(ask, refreshMs);
  }

  function main() {
    let D;
    try {
      D = loadData();
    } catch (err) {
      const message = caught('data', err);
      document.getElementById('summary').appendChild(emptyLine(`The report's data cannot be read: ${message}`));
      signalReady();
      return;
    }
    render(D).then(() => {
      noteRender(D);
      signalReady();
      if (D.live) startLive(D);
    });
  }

  main();
})();
