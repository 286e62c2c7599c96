// Timeline charts for the live page and `rinse inspect --html`, on uPlot (loaded before this
// file as the global `uPlot`). Plain browser JavaScript, no build step: the relay serves it
// as is and the inspect report inlines it. Every chart container gets data-points (values
// drawn) and data-marks (marks on its time axis), so a test can read what was drawn.
(function () {
  'use strict';

  /** Colours per mark kind, shared with the marks list's legend. */
  var MARK_COLOURS = {
    repair: '#d97706',
    reconnect: '#dc2626',
    'gap-filler': '#7c3aed',
    mode: '#0891b2',
    stall: '#be123c',
    finding: '#dc2626',
    keyframe: '#16a34a',
  };
  var SERIES_COLOURS = ['#2563eb', '#16a34a', '#d97706', '#9333ea'];

  function markColour(kind) {
    return MARK_COLOURS[kind] || '#6b7280';
  }

  /** Vertical lines at each mark's time, drawn after the series. */
  function marksPlugin(getMarks) {
    return {
      hooks: {
        draw: [
          function (u) {
            var ctx = u.ctx;
            var marks = getMarks();
            ctx.save();
            ctx.lineWidth = 2 * (window.devicePixelRatio || 1);
            for (var i = 0; i < marks.length; i++) {
              var x = u.valToPos(marks[i].x, 'x', true);
              if (x < u.bbox.left || x > u.bbox.left + u.bbox.width) continue;
              ctx.strokeStyle = markColour(marks[i].kind);
              ctx.beginPath();
              ctx.moveTo(x, u.bbox.top);
              ctx.lineTo(x, u.bbox.top + u.bbox.height);
              ctx.stroke();
            }
            ctx.restore();
          },
        ],
      },
    };
  }

  /**
   * One chart. spec: { title, unit, series: [{ label, points: boolean, dash: [..] }],
   * timeAxis: 'epoch' | 'stream', width, height }. Returns { update(xs, ys[], marks) }:
   * xs in seconds (epoch or stream time), ys one array per series (null: no value),
   * marks [{ x, kind, detail }].
   */
  function timelineChart(el, spec) {
    var marks = [];
    var title = document.createElement('h3');
    title.textContent = spec.title;
    el.appendChild(title);
    var series = [{}];
    for (var i = 0; i < spec.series.length; i++) {
      var s = spec.series[i];
      series.push({
        label: s.label,
        stroke: s.colour || SERIES_COLOURS[i % SERIES_COLOURS.length],
        width: 2,
        dash: s.dash,
        spanGaps: false,
        points: s.points ? { show: true, size: 7, fill: s.colour || SERIES_COLOURS[i] } : { show: false },
        paths: s.points
          ? function () {
              return null;
            }
          : undefined,
        value: function (u, v) {
          return v == null ? '-' : v.toFixed(spec.digits == null ? 1 : spec.digits) + ' ' + spec.unit;
        },
      });
    }
    var opts = {
      width: spec.width || Math.max(320, el.clientWidth || 640),
      height: spec.height || 180,
      scales: { x: { time: spec.timeAxis !== 'stream' } },
      axes: [spec.timeAxis === 'stream' ? { label: 'stream time (s)' } : {}, { label: spec.unit, size: 60 }],
      series: series,
      plugins: [
        marksPlugin(function () {
          return marks;
        }),
      ],
    };
    var empty = [[]];
    for (var k = 0; k < spec.series.length; k++) empty.push([]);
    var plot = new uPlot(opts, empty, el);
    el.setAttribute('data-points', '0');
    el.setAttribute('data-marks', '0');
    return {
      plot: plot,
      update: function (xs, ys, newMarks) {
        marks = newMarks || [];
        var drawn = 0;
        for (var j = 0; j < ys.length; j++) for (var n = 0; n < ys[j].length; n++) if (ys[j][n] != null) drawn++;
        plot.setData([xs].concat(ys));
        // The time axis spans the marks too: a repair in the first second has no point yet.
        var lo = xs.length ? xs[0] : Infinity;
        var hi = xs.length ? xs[xs.length - 1] : -Infinity;
        for (var q = 0; q < marks.length; q++) {
          lo = Math.min(lo, marks[q].x);
          hi = Math.max(hi, marks[q].x);
        }
        if (lo < hi) plot.setScale('x', { min: lo, max: hi });
        el.setAttribute('data-points', String(drawn));
        el.setAttribute('data-marks', String(marks.length));
        var kinds = {};
        for (var m = 0; m < marks.length; m++) kinds[marks[m].kind] = (kinds[marks[m].kind] || 0) + 1;
        el.setAttribute('data-mark-kinds', JSON.stringify(kinds));
      },
    };
  }

  /** A list of marks (time, kind, what) under the charts; `format(x)` prints the time. */
  function renderMarks(listEl, marks, format) {
    listEl.textContent = '';
    for (var i = marks.length - 1; i >= 0; i--) {
      var m = marks[i];
      var li = document.createElement('li');
      li.setAttribute('data-kind', m.kind);
      var dot = document.createElement('span');
      dot.className = 'mark-dot';
      dot.style.background = markColour(m.kind);
      li.appendChild(dot);
      var text = format(m.x) + '  ' + m.kind + (m.rule ? ' [' + m.rule + ']' : '') + ': ' + m.detail;
      if (m.count > 1) text += ' (x' + m.count + ')';
      li.appendChild(document.createTextNode(text));
      listEl.appendChild(li);
    }
  }

  window.RinseTimeline = { timelineChart: timelineChart, renderMarks: renderMarks, markColour: markColour };
})();
