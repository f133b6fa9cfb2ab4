// lembed console: plain DOM, no framework, no build step. Calls only the public HTTP API,
// every call with the API key the login form took (window.lembedHeaders, from the loader).
(function () {
  "use strict";

  // ---- small helpers -------------------------------------------------------------------
  function h(tag, attrs, children) {
    var el = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      var v = attrs[k];
      if (v === null || v === undefined || v === false) { return; }
      if (k === "on") { Object.keys(v).forEach(function (ev) { el.addEventListener(ev, v[ev]); }); }
      else if (k === "text") { el.textContent = v; }
      else { el.setAttribute(k, v === true ? "" : v); }
    });
    [].concat(children || []).forEach(function (c) {
      if (c === null || c === undefined) { return; }
      el.appendChild(typeof c === "string" || typeof c === "number" ? document.createTextNode(String(c)) : c);
    });
    return el;
  }
  function $(sel, root) { return (root || document).querySelector(sel); }
  function clear(el) { while (el.firstChild) { el.removeChild(el.firstChild); } return el; }

  function errorText(body, status) {
    if (body && typeof body.error === "string") { return body.error; }
    if (body && body.error && body.error.message) { return body.error.message; }
    return "the server answered " + status;
  }

  function api(path, options) {
    options = options || {};
    var headers = Object.assign({}, window.lembedHeaders(), options.json ? { "Content-Type": "application/json" } : {});
    var init = { method: options.json ? "POST" : "GET", headers: headers };
    if (options.json) { init.body = JSON.stringify(options.json); }
    return fetch(path, init).then(function (r) {
      if (r.status === 401) { sessionStorage.removeItem("lembed.key"); location.reload(); throw new Error("the API key was refused"); }
      if (options.raw) {
        if (!r.ok) { return r.json().catch(function () { return null; }).then(function (b) { throw new Error(errorText(b, r.status)); }); }
        return r;
      }
      var type = r.headers.get("content-type") || "";
      var body = type.indexOf("json") >= 0 ? r.json() : r.text();
      return body.then(function (b) { if (!r.ok) { throw new Error(errorText(b, r.status)); } return b; });
    });
  }

  function showError(el, err) { clear(el).appendChild(h("p", { "class": "error", role: "alert", text: err.message || String(err) })); }

  // Blue (-1) → white (0) → red (+1), for similarities.
  function heat(v) {
    var t = Math.max(-1, Math.min(1, v));
    var a = Math.round(255 * (1 - Math.abs(t)));
    return t >= 0 ? "rgb(255," + a + "," + a + ")" : "rgb(" + a + "," + a + ",255)";
  }
  var PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

  var state = { models: [], collections: [] };

  // ---- layout --------------------------------------------------------------------------
  var TABS = [["playground", "Playground"], ["search", "Search"], ["ask", "Ask"], ["collections", "Collections"], ["server", "Server"]];
  var app = $("#app");
  app.hidden = false;
  app.appendChild(h("header", {}, [
    h("span", { "class": "brand", text: "lembed" }),
    h("nav", {}, TABS.map(function (t) {
      return h("button", { type: "button", "data-tab": t[0], on: { click: function () { show(t[0]); } } }, t[1]);
    })),
    h("span", { id: "health", "class": "pill", text: "…" })
  ]));
  var main = h("main", {});
  app.appendChild(main);
  var sections = {};
  TABS.forEach(function (t) { sections[t[0]] = main.appendChild(h("section", { id: t[0], hidden: true })); });

  function show(name) {
    TABS.forEach(function (t) {
      sections[t[0]].hidden = t[0] !== name;
      $("[data-tab=" + t[0] + "]").classList.toggle("active", t[0] === name);
    });
    location.hash = name;
    if (name === "server") { refreshServer(); }
    if (name === "collections") { refreshCollections(); }
  }

  function select(id, values, label) {
    return h("label", {}, [label, h("select", { id: id }, values.map(function (v) {
      return Array.isArray(v) ? h("option", { value: v[0] }, v[1]) : h("option", { value: v }, v);
    }))]);
  }
  function collectionSelect(id) {
    return h("label", {}, ["collection", h("select", { id: id, "class": "collection-select" })]);
  }
  function fillCollections() {
    document.querySelectorAll(".collection-select").forEach(function (sel) {
      var keep = sel.value;
      clear(sel);
      state.collections.forEach(function (c) { sel.appendChild(h("option", { value: c.name }, c.name)); });
      if (keep) { sel.value = keep; }
    });
  }

  // ---- playground ----------------------------------------------------------------------
  (function () {
    var s = sections.playground;
    s.appendChild(h("h2", { text: "Playground" }));
    s.appendChild(h("p", { "class": "hint", text: "One text per line. The matrix is the similarity of every pair, as a client would compute it from the vectors in that dtype." }));
    s.appendChild(h("textarea", { id: "pg-texts", rows: 6 }, "A cat sits on the mat.\nA kitten is resting on a rug.\nThe stock market fell sharply today."));
    s.appendChild(h("div", { "class": "row" }, [
      h("label", {}, ["model", h("select", { id: "pg-model" })]),
      select("pg-input-type", [["", "server default"], "query", "document", "none"], "input type"),
      h("label", {}, ["dimensions", h("input", { id: "pg-dims", type: "number", min: 1, placeholder: "full" })]),
      select("pg-dtype", ["float32", "int8", "binary"], "dtype"),
      h("button", { id: "pg-run", type: "button", "class": "primary", on: { click: run } }, "Compare")
    ]));
    var out = s.appendChild(h("div", { id: "pg-out" }));

    function run() {
      var texts = $("#pg-texts").value.split("\n").map(function (t) { return t.trim(); }).filter(Boolean);
      if (texts.length < 1) { showError(out, new Error("type at least one text")); return; }
      var body = { input: texts, model: $("#pg-model").value || null, dtype: $("#pg-dtype").value };
      if ($("#pg-input-type").value) { body.input_type = $("#pg-input-type").value; }
      if ($("#pg-dims").value) { body.dimensions = parseInt($("#pg-dims").value, 10); }
      clear(out).appendChild(h("p", { "class": "hint", text: "embedding…" }));
      api("/v1/compare", { json: body }).then(function (r) { render(texts, r); }).catch(function (e) { showError(out, e); });
    }

    function render(texts, r) {
      clear(out);
      out.appendChild(h("p", { "class": "hint" }, r.model + " · " + r.dimensions + " dimensions · " + r.dtype + " · window " + r.window + " tokens"));
      var head = h("tr", {}, [h("th", {})].concat(texts.map(function (_, i) { return h("th", { text: "#" + (i + 1) }); })));
      var rows = texts.map(function (t, i) {
        return h("tr", {}, [h("th", { title: t, text: "#" + (i + 1) })].concat(r.matrix[i].map(function (v, j) {
          return h("td", { "class": "cell", style: "background:" + heat(v), title: "#" + (i + 1) + " vs #" + (j + 1), text: v.toFixed(3) });
        })));
      });
      out.appendChild(h("table", { id: "pg-matrix", "class": "matrix" }, [h("thead", {}, head), h("tbody", {}, rows)]));
      out.appendChild(h("table", { id: "pg-tokens", "class": "list" }, [
        h("thead", {}, h("tr", {}, [h("th", { text: "#" }), h("th", { text: "text" }), h("th", { text: "tokens" }), h("th", { text: "truncated" })])),
        h("tbody", {}, texts.map(function (t, i) {
          return h("tr", {}, [h("td", { text: "#" + (i + 1) }), h("td", { text: t }), h("td", { "class": "num", text: r.tokens[i] }),
            h("td", { "class": r.truncated[i] ? "warn" : "", text: r.truncated[i] ? "yes, cut to " + r.window : "no" })]);
        }))
      ]));
    }
  })();

  // ---- search --------------------------------------------------------------------------
  (function () {
    var s = sections.search;
    s.appendChild(h("h2", { text: "Search" }));
    s.appendChild(h("div", { "class": "row" }, [
      collectionSelect("search-collection"),
      select("search-mode", ["dense", "bm25", "hybrid"], "mode"),
      h("label", {}, ["k", h("input", { id: "search-k", type: "number", min: 1, max: 100, value: 10 })])
    ]));
    s.appendChild(h("form", { "class": "row", on: { submit: function (e) { e.preventDefault(); run(); } } }, [
      h("input", { id: "search-query", type: "search", placeholder: "what are you looking for?", "class": "grow" }),
      h("button", { type: "submit", "class": "primary" }, "Search")
    ]));
    var out = s.appendChild(h("div", { id: "search-out" }));

    function run() {
      var body = { query: $("#search-query").value, collection: $("#search-collection").value, mode: $("#search-mode").value, k: parseInt($("#search-k").value || "10", 10) };
      clear(out).appendChild(h("p", { "class": "hint", text: "searching…" }));
      api("/v1/search", { json: body }).then(render).catch(function (e) { showError(out, e); });
    }
    function render(r) {
      clear(out);
      out.appendChild(h("p", { "class": "hint" }, r.hits.length + " hits · " + r.mode + " · " + r.model + " · embed " + (r.timings_ms.embed || 0).toFixed(1) + " ms, search " + (r.timings_ms.search || 0).toFixed(1) + " ms"));
      r.notes.forEach(function (n) { out.appendChild(h("p", { "class": "note", text: n })); });
      var list = out.appendChild(h("ol", { id: "search-hits", "class": "hits" }));
      r.hits.forEach(function (hit) { list.appendChild(hitItem(hit, hit.best_sentence)); });
    }
  })();

  function highlighted(text, sentence) {
    var at = sentence ? text.indexOf(sentence) : -1;
    if (at < 0) { return h("p", { "class": "chunk-text", text: text }); }
    return h("p", { "class": "chunk-text" }, [text.slice(0, at), h("mark", { text: sentence }), text.slice(at + sentence.length)]);
  }
  function where(hit) {
    return hit.source + (hit.page !== null && hit.page !== undefined ? " · page " + hit.page : "") + (hit.chunk !== null && hit.chunk !== undefined ? " · chunk " + hit.chunk : "");
  }
  function hitItem(hit, sentence) {
    return h("li", { "class": "hit", id: hit.n ? "passage-" + hit.n : null }, [
      h("div", { "class": "hit-head" }, [
        hit.n ? h("span", { "class": "badge", text: "[" + hit.n + "]" }) : null,
        h("span", { "class": "source", text: where(hit) }),
        h("span", { "class": "score", text: "score " + Number(hit.score).toFixed(4) })
      ]),
      highlighted(hit.text, sentence)
    ]);
  }

  // ---- ask -----------------------------------------------------------------------------
  (function () {
    var s = sections.ask;
    s.appendChild(h("h2", { text: "Ask" }));
    s.appendChild(h("div", { "class": "row" }, [collectionSelect("ask-collection"), select("ask-mode", ["dense", "bm25", "hybrid"], "mode")]));
    s.appendChild(h("form", { "class": "row", on: { submit: function (e) { e.preventDefault(); run(); } } }, [
      h("input", { id: "ask-question", type: "search", placeholder: "ask the collection a question", "class": "grow" }),
      h("button", { type: "submit", "class": "primary" }, "Ask")
    ]));
    var answer = s.appendChild(h("div", { id: "ask-answer", "class": "answer", "aria-live": "polite" }));
    var meta = s.appendChild(h("div", { id: "ask-meta" }));
    var sources = s.appendChild(h("ol", { id: "ask-sources", "class": "hits" }));

    function run() {
      clear(answer); clear(meta); clear(sources);
      answer.classList.add("streaming");
      var text = "";
      var body = { question: $("#ask-question").value, collection: $("#ask-collection").value, mode: $("#ask-mode").value };
      api("/v1/ask", { json: body, raw: true }).then(function (r) {
        var reader = r.body.getReader();
        var decoder = new TextDecoder();
        var buffer = "";
        function pump() {
          return reader.read().then(function (chunk) {
            buffer += decoder.decode(chunk.value || new Uint8Array(), { stream: !chunk.done });
            var lines = buffer.split("\n");
            buffer = chunk.done ? "" : lines.pop();
            lines.filter(Boolean).forEach(function (line) {
              var ev = JSON.parse(line);
              if (ev.type === "text") { text += ev.text; answer.textContent = text; }
              else if (ev.type === "done") { done(ev); }
              else if (ev.type === "error") { showError(meta, new Error(ev.error)); }
            });
            if (!chunk.done) { return pump(); }
            answer.classList.remove("streaming");
          });
        }
        return pump();
      }).catch(function (e) { answer.classList.remove("streaming"); showError(meta, e); });
    }

    function done(ev) {
      // the answer again, with each [n] a link to its passage
      clear(answer);
      var parts = (ev.answer || "").split(/(\[\d+\])/);
      parts.forEach(function (p) {
        var m = /^\[(\d+)\]$/.exec(p);
        answer.appendChild(m ? h("a", { href: "#passage-" + m[1], "class": "cite", on: { click: function (e) { e.preventDefault(); var t = document.getElementById("passage-" + m[1]); if (t) { t.scrollIntoView({ block: "center" }); t.classList.add("flash"); } } } }, p) : document.createTextNode(p));
      });
      var t = ev.timings_ms || {};
      meta.appendChild(h("p", { "class": "hint" }, (ev.answer_kind || "") + (ev.generator ? " (" + ev.generator + ")" : "") + " · " + ev.retrieved + " retrieved · embed " + t.embed + " ms · search " + t.search + " ms · answer " + t.generate + " ms"));
      (ev.notes || []).forEach(function (n) { meta.appendChild(h("p", { "class": "note", text: n })); });
      ev.sources.forEach(function (src) {
        var item = hitItem({ n: src.n, source: src.metadata.source || src.source, page: src.metadata.page, chunk: src.metadata.chunk, score: src.score, text: src.text }, null);
        if (src.cited) { item.classList.add("cited"); }
        sources.appendChild(item);
      });
    }
  })();

  // ---- collections ---------------------------------------------------------------------
  (function () {
    var s = sections.collections;
    s.appendChild(h("h2", { text: "Collections" }));
    s.appendChild(h("p", { id: "coll-store", "class": "hint" }));
    s.appendChild(h("table", { id: "coll-table", "class": "list" }, [
      h("thead", {}, h("tr", {}, ["name", "model", "chunks", "dimensions", "quantisation", "store", ""].map(function (c) { return h("th", { text: c }); }))),
      h("tbody", {})
    ]));
    var detail = s.appendChild(h("div", { id: "coll-detail" }));

    window.lembedCollections = function (r) {
      $("#coll-store").textContent = "store: " + r.store;
      var body = clear($("#coll-table tbody"));
      if (!r.data.length) { body.appendChild(h("tr", {}, h("td", { colspan: 7, text: "no collections yet: lembed index FOLDER --store " + r.store }))); }
      r.data.forEach(function (c) {
        body.appendChild(h("tr", {}, [
          h("td", { text: c.name }), h("td", { text: c.model || "?" }), h("td", { "class": "num", text: c.count }),
          h("td", { "class": "num", text: c.dimensions || "?" }), h("td", { text: c.quantization || "not reported" }), h("td", { text: c.store }),
          h("td", { "class": "actions" }, [h("button", { type: "button", on: { click: function () { open(c.name); } } }, "browse"),
            h("button", { type: "button", on: { click: function () { map(c.name); } } }, "map")])
        ]));
      });
    };

    function open(name) {
      clear(detail).appendChild(h("h3", { text: name + ": sources" }));
      var chunks = h("div", { id: "coll-chunks" });
      api("/v1/collections/" + encodeURIComponent(name) + "/sources").then(function (r) {
        var list = detail.appendChild(h("ul", { id: "coll-sources", "class": "sources" }));
        r.data.forEach(function (src) {
          list.appendChild(h("li", {}, h("a", { href: "#", on: { click: function (e) { e.preventDefault(); browse(name, src.source, chunks); } } }, src.source + " (" + src.chunks + ")")));
        });
        detail.appendChild(chunks);
      }).catch(function (e) { showError(detail, e); });
    }
    function browse(name, source, out) {
      api("/v1/collections/" + encodeURIComponent(name) + "/chunks?source=" + encodeURIComponent(source)).then(function (r) {
        clear(out).appendChild(h("h4", { text: source + ": " + r.total + " chunks" }));
        var list = out.appendChild(h("ol", { "class": "hits" }));
        r.data.forEach(function (c) { list.appendChild(hitItem({ source: c.source, page: c.page, chunk: c.chunk, score: NaN, text: c.text }, null)); });
      }).catch(function (e) { showError(out, e); });
    }
    function map(name) {
      clear(detail).appendChild(h("h3", { text: name + ": map" }));
      var holder = detail.appendChild(h("div", { id: "coll-map" }, h("p", { "class": "hint", text: "projecting…" })));
      api("/v1/collections/" + encodeURIComponent(name) + "/map?sample=500").then(function (r) { drawMap(holder, r); }).catch(function (e) { showError(holder, e); });
    }
    function drawMap(holder, r) {
      clear(holder);
      var NS = "http://www.w3.org/2000/svg", W = 640, H = 420, pad = 16;
      var xs = r.points.map(function (p) { return p.x; }), ys = r.points.map(function (p) { return p.y; });
      var x0 = Math.min.apply(null, xs), x1 = Math.max.apply(null, xs), y0 = Math.min.apply(null, ys), y1 = Math.max.apply(null, ys);
      var sx = function (x) { return pad + (x - x0) / ((x1 - x0) || 1) * (W - 2 * pad); };
      var sy = function (y) { return H - pad - (y - y0) / ((y1 - y0) || 1) * (H - 2 * pad); };
      var colours = {};
      r.points.forEach(function (p) { if (!(p.source in colours)) { colours[p.source] = PALETTE[Object.keys(colours).length % PALETTE.length]; } });
      var svg = document.createElementNS(NS, "svg");
      svg.setAttribute("viewBox", "0 0 " + W + " " + H);
      svg.setAttribute("class", "map");
      r.points.forEach(function (p) {
        var c = document.createElementNS(NS, "circle");
        c.setAttribute("cx", sx(p.x)); c.setAttribute("cy", sy(p.y)); c.setAttribute("r", 5);
        c.setAttribute("fill", colours[p.source]);
        var title = document.createElementNS(NS, "title");
        title.textContent = p.source + ": " + p.text;
        c.appendChild(title);
        svg.appendChild(c);
      });
      holder.appendChild(h("p", { "class": "hint" }, r.points.length + " of " + r.total + " chunks · PCA of " + r.model + " vectors · explained variance " + r.explained_variance.map(function (v) { return (100 * v).toFixed(1) + " %"; }).join(", ")));
      holder.appendChild(svg);
      holder.appendChild(h("ul", { "class": "legend" }, Object.keys(colours).map(function (s) {
        return h("li", {}, [h("span", { "class": "swatch", style: "background:" + colours[s] }), s]);
      })));
    }
  })();

  function refreshCollections() {
    return api("/v1/collections").then(function (r) {
      state.collections = r.data;
      fillCollections();
      window.lembedCollections(r);
    }).catch(function (e) { showError($("#coll-detail"), e); });
  }

  // ---- server --------------------------------------------------------------------------
  (function () {
    var s = sections.server;
    s.appendChild(h("h2", { text: "Server" }));
    s.appendChild(h("div", { id: "server-models" }));
    s.appendChild(h("div", { id: "server-metrics" }));
    s.appendChild(h("button", { type: "button", on: { click: refreshServer } }, "Refresh"));
  })();

  function parseMetrics(text) {
    var out = {};
    text.split("\n").forEach(function (line) {
      if (!line || line[0] === "#") { return; }
      var m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
      if (!m) { return; }
      out[m[1] + (m[2] || "")] = parseFloat(m[3]);
    });
    return out;
  }
  function sumOf(metrics, name) {  // "–" when the metric has no samples yet
    var keys = Object.keys(metrics).filter(function (k) { return k === name || k.indexOf(name + "{") === 0; });
    return keys.length ? keys.reduce(function (a, k) { return a + metrics[k]; }, 0) : "–";
  }

  function refreshServer() {
    api("/api/ps").then(function (r) {
      var out = clear($("#server-models"));
      out.appendChild(h("h3", { text: "Loaded models" }));
      out.appendChild(h("table", { id: "server-model-table", "class": "list" }, [
        h("thead", {}, h("tr", {}, ["name", "family", "parameters", "dtype"].map(function (c) { return h("th", { text: c }); }))),
        h("tbody", {}, r.models.map(function (m) {
          var d = m.details || {};
          return h("tr", {}, [h("td", { text: m.name }), h("td", { text: d.family || "" }), h("td", { text: d.parameter_size || "" }), h("td", { text: d.quantization_level || "" })]);
        }))
      ]));
    }).catch(function (e) { showError($("#server-models"), e); });
    api("/metrics").then(function (text) {
      var m = parseMetrics(text);
      var batches = m["lembed_batch_inputs_count"] || 0;
      var rows = [
        ["requests served", sumOf(m, "lembed_requests_total")],
        ["inputs waiting in the queue", m["lembed_queue_inputs"] || 0],
        ["forward passes (batches)", batches],
        ["mean inputs per batch", batches ? (m["lembed_batch_inputs_sum"] / batches).toFixed(2) : "–"],
        ["mean padded tokens per batch", batches ? (m["lembed_batch_padded_tokens_sum"] / batches).toFixed(1) : "–"],
        ["mean time per batch", batches ? (1000 * m["lembed_batch_seconds_sum"] / batches).toFixed(2) + " ms" : "–"],
        ["tokens embedded", sumOf(m, "lembed_input_tokens_total")]
      ];
      var out = clear($("#server-metrics"));
      out.appendChild(h("h3", { text: "Queue and batches (from /metrics)" }));
      out.appendChild(h("table", { id: "server-stats", "class": "list" }, h("tbody", {}, rows.map(function (r) {
        return h("tr", {}, [h("th", { text: r[0] }), h("td", { "class": "num", text: r[1] })]);
      }))));
    }).catch(function (e) { showError($("#server-metrics"), e); });
    refreshHealth();
  }

  function refreshHealth() {
    var pill = $("#health");
    fetch("/health", { headers: window.lembedHeaders() }).then(function (r) {
      pill.textContent = r.ok ? "healthy" : "unhealthy (" + r.status + ")";
      pill.className = "pill " + (r.ok ? "ok" : "bad");
    }).catch(function () { pill.textContent = "unreachable"; pill.className = "pill bad"; });
  }

  // ---- start ---------------------------------------------------------------------------
  api("/v1/models").then(function (r) {
    state.models = r.data.map(function (m) { return m.id; });
    var sel = clear($("#pg-model"));
    state.models.forEach(function (m) { sel.appendChild(h("option", { value: m }, m)); });
  }).catch(function (e) { showError($("#pg-out"), e); });
  refreshCollections();
  refreshHealth();
  var first = (location.hash || "").slice(1);
  show(sections[first] ? first : "playground");
})();
