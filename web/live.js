// The live page: the streams table from GET /v1/streams and, for the chosen stream, its
// last minutes from GET /v1/streams/{user}/{stream}/history, both polled. With an API
// token, the page is opened as /?token=...; the token moves to sessionStorage and every
// request sends it as a bearer token.
(function () {
  'use strict';
  var TABLE_POLL_MS = 2000;
  var HISTORY_POLL_MS = 1000;
  var T = window.RinseTimeline;

  var params = new URLSearchParams(location.search);
  if (params.has('token')) {
    sessionStorage.setItem('rinse-token', params.get('token'));
    params.delete('token');
    history.replaceState(null, '', location.pathname + (params.toString() ? '?' + params : '') + location.hash);
  }
  var token = sessionStorage.getItem('rinse-token');

  function getJson(path) {
    var headers = token ? { authorization: 'Bearer ' + token } : {};
    return fetch(path, { headers: headers, cache: 'no-store' }).then(function (res) {
      if (!res.ok) throw new Error(path + ': HTTP ' + res.status);
      return res.json();
    });
  }

  function setStatus(state, text) {
    var el = document.getElementById('status');
    el.setAttribute('data-state', state);
    el.textContent = text;
  }

  function uptime(since) {
    if (!since) return '-';
    var s = Math.max(0, Math.round((Date.now() - Date.parse(since)) / 1000));
    var h = Math.floor(s / 3600);
    var m = Math.floor((s % 3600) / 60);
    return (h ? h + 'h ' : '') + (h || m ? m + 'm ' : '') + (s % 60) + 's';
  }

  function repairCount(repairs) {
    var n = 0;
    for (var k in repairs) n += repairs[k].count;
    return n;
  }

  function cells(s) {
    var v = s.video || {};
    var a = s.audio;
    var dest = s.destination || {};
    return [
      s.userId,
      s.streamId,
      s.publisher ? s.publisher.address || '?' : 'away',
      s.publisher ? uptime(s.publisher.since) : '-',
      (v.codec || '-') + ' / ' + (a ? a.codec : '-'),
      v.width ? v.width + 'x' + v.height + (v.fps ? ' @ ' + v.fps.toFixed(2) : '') : '-',
      s.bitrateKbps == null ? '-' : s.bitrateKbps + ' kb/s',
      s.mode + (s.gapFiller && s.gapFiller.state === 'filling' ? ' (filling)' : ''),
      dest.kind === 'rtmp' ? dest.state : 'local',
      String(Math.max(0, s.publishes - 1)) +
        (dest.kind === 'rtmp' ? ' / ' + Math.max(0, dest.connects - 1) + ' up' : ''),
      String(repairCount(s.repairs)),
    ];
  }

  var selected = location.hash ? decodeURIComponent(location.hash.slice(1)) : null;
  var detail = null;

  function renderTable(streams) {
    var body = document.querySelector('#streams tbody');
    body.textContent = '';
    document.getElementById('no-streams').hidden = streams.length > 0;
    if (selected === null && streams.length > 0) select(streams[0].userId + '/' + streams[0].streamId);
    streams.forEach(function (s) {
      var key = s.userId + '/' + s.streamId;
      var tr = document.createElement('tr');
      tr.setAttribute('data-stream', key);
      if (key === selected) tr.className = 'selected';
      cells(s).forEach(function (text) {
        var td = document.createElement('td');
        td.textContent = text;
        tr.appendChild(td);
      });
      tr.addEventListener('click', function () {
        select(key);
      });
      body.appendChild(tr);
    });
  }

  function pollTable() {
    getJson('v1/streams')
      .then(function (body) {
        renderTable(body.streams);
        setStatus('ok', body.streams.length + ' stream' + (body.streams.length === 1 ? '' : 's'));
      })
      .catch(function (err) {
        setStatus('error', String(err.message || err));
      })
      .then(function () {
        setTimeout(pollTable, TABLE_POLL_MS);
      });
  }

  function newDetail(key) {
    ['bitrate', 'fps', 'keyframes', 'skew', 'latency'].forEach(function (id) {
      document.getElementById('chart-' + id).textContent = '';
    });
    var c = function (id) {
      return document.getElementById('chart-' + id);
    };
    return {
      key: key,
      since: 0,
      // Both from the server's first answer (nothing is drawn before it).
      keepMs: 0,
      points: [],
      keyframes: [],
      marks: [],
      bounds: null,
      charts: {
        bitrate: T.timelineChart(c('bitrate'), {
          title: 'Bitrate',
          unit: 'kb/s',
          digits: 0,
          series: [{ label: 'ingest' }, { label: 'output' }],
        }),
        fps: T.timelineChart(c('fps'), { title: 'Frame rate (output)', unit: 'fps', series: [{ label: 'video' }] }),
        keyframes: T.timelineChart(c('keyframes'), {
          title: 'Keyframe intervals (ingest)',
          unit: 's',
          digits: 2,
          series: [
            { label: 'interval', points: true },
            { label: 'min', dash: [6, 4], colour: '#9ca3af' },
            { label: 'max', dash: [6, 4], colour: '#ef4444' },
          ],
        }),
        skew: T.timelineChart(c('skew'), {
          title: 'A/V skew (audio - video, output)',
          unit: 'ms',
          digits: 0,
          series: [{ label: 'skew' }],
        }),
        latency: T.timelineChart(c('latency'), {
          title: 'Added latency (max per second)',
          unit: 'ms',
          digits: 2,
          series: [{ label: 'latency' }],
        }),
      },
    };
  }

  function select(key) {
    selected = key;
    history.replaceState(null, '', location.pathname + location.search + '#' + encodeURIComponent(key));
    document.querySelectorAll('#streams tbody tr').forEach(function (tr) {
      tr.className = tr.getAttribute('data-stream') === key ? 'selected' : '';
    });
    document.getElementById('detail').hidden = false;
    document.getElementById('detail-title').textContent = key;
    detail = newDetail(key);
  }

  function keep(list, nowMs, keepMs) {
    while (list.length > 0 && nowMs - list[0].t > keepMs) list.shift();
  }

  function drawDetail(d) {
    var marks = d.marks.map(function (m) {
      return { x: m.t / 1000, kind: m.kind, detail: m.detail, count: m.count };
    });
    var xs = d.points.map(function (p) {
      return p.t / 1000;
    });
    var col = function (name) {
      return d.points.map(function (p) {
        return p[name];
      });
    };
    d.charts.bitrate.update(xs, [col('inKbps'), col('outKbps')], marks);
    d.charts.fps.update(xs, [col('fps')], marks);
    d.charts.skew.update(xs, [col('skewMs')], marks);
    d.charts.latency.update(xs, [col('latencyMs')], marks);
    var kx = d.keyframes.map(function (k) {
      return k.t / 1000;
    });
    d.charts.keyframes.update(
      kx,
      [
        d.keyframes.map(function (k) {
          return k.intervalS;
        }),
        kx.map(function () {
          return d.bounds.min;
        }),
        kx.map(function () {
          return d.bounds.max;
        }),
      ],
      marks,
    );
    T.renderMarks(document.getElementById('marks'), marks, function (x) {
      return new Date(x * 1000).toLocaleTimeString();
    });
  }

  function pollHistory() {
    var d = detail;
    var next = function () {
      setTimeout(pollHistory, HISTORY_POLL_MS);
    };
    if (d === null) return next();
    var parts = d.key.split('/');
    var path =
      'v1/streams/' +
      encodeURIComponent(parts[0]) +
      '/' +
      encodeURIComponent(parts.slice(1).join('/')) +
      '/history?since=' +
      d.since;
    getJson(path)
      .then(function (h) {
        if (d !== detail) return;
        d.keepMs = h.keepMs;
        d.bounds = h.keyframeBoundsS;
        // Everything after `since` comes again whole (a mark is counted up within its second).
        var since = d.since;
        var older = function (list) {
          return list.filter(function (e) {
            return e.t <= since;
          });
        };
        d.points = older(d.points).concat(h.points);
        d.keyframes = older(d.keyframes).concat(h.keyframes);
        d.marks = older(d.marks).concat(h.marks);
        if (h.points.length) d.since = h.points[h.points.length - 1].t;
        var now = Date.now();
        keep(d.points, now, d.keepMs);
        keep(d.keyframes, now, d.keepMs);
        keep(d.marks, now, d.keepMs);
        drawDetail(d);
      })
      .catch(function (err) {
        setStatus('error', String(err.message || err));
      })
      .then(next);
  }

  pollTable();
  pollHistory();
})();
