// crashflow's browser script: only what a plain page cannot do. Every page works without
// it; with it, a pending report appears by itself, the filter builder adds and removes
// rows and offers each field's operators, and charts are drawn from the tables beside them.
"use strict";

// -- A crash being processed: ask for the page until it is the report, then show it.
function pollPendingReport(body) {
  const status = document.getElementById("pending-status");
  let delay = Number(body.dataset.pollSeconds || 2) * 1000;
  const started = Date.now();
  async function poll() {
    try {
      const answer = await fetch(window.location.href, { headers: { Accept: "text/html" }, credentials: "same-origin" });
      if (answer.status !== 202) {
        const next = new DOMParser().parseFromString(await answer.text(), "text/html");
        if (next.body && next.body.dataset.page === "report") {
          document.title = next.title;
          document.body.replaceWith(document.adoptNode(next.body));
          return;
        }
        if (answer.status >= 400) {
          status.textContent = "Processing failed (" + answer.status + "). Reload the page to see why.";
          return;
        }
      }
    } catch (error) {
      // the query function could not be reached: keep trying
    }
    if (Date.now() - started > 10 * 60 * 1000) {
      status.textContent = "Still processing after 10 minutes. Reload the page later.";
      return;
    }
    delay = Math.min(delay * 1.3, 10000);
    window.setTimeout(poll, delay);
  }
  window.setTimeout(poll, delay);
}

// -- The Super Search filter builder.
function setUpBuilder(form) {
  const rows = form.querySelector("[data-rows]");
  const template = form.querySelector("[data-row-template]");
  const addButton = form.querySelector("[data-add-row]");
  const operatorsByField = JSON.parse(document.getElementById("operators-by-field").textContent);
  let added = 0;

  function fitOperators(row) {
    const fieldSelect = row.querySelector("[data-field]");
    const operatorSelect = row.querySelector("[data-operator]");
    const valueInput = row.querySelector("[data-value]");
    const chosen = fieldSelect.selectedOptions[0];
    const type = chosen && chosen.dataset.type;
    const choices = operatorsByField[fieldSelect.value];
    if (choices) {
      const current = operatorSelect.value;
      operatorSelect.replaceChildren(...choices.map(([key, label, takesValue]) => {
        const option = new Option(label, key, false, key === current);
        option.dataset.takesValue = takesValue ? "1" : "";
        return option;
      }));
    }
    const operator = operatorSelect.selectedOptions[0];
    const takesValue = !operator || operator.dataset.takesValue !== "";
    valueInput.disabled = !takesValue;
    valueInput.placeholder = type === "date" ? "2026-11-30 or 2026-11-30 12:00" : takesValue ? "value" : "";
  }

  function wire(row) {
    row.querySelector("[data-field]").addEventListener("change", () => fitOperators(row));
    row.querySelector("[data-operator]").addEventListener("change", () => fitOperators(row));
    const remove = row.querySelector("[data-remove]");
    remove.type = "button"; // without this script it submits the form without the row
    remove.addEventListener("click", () => {
      const focusTarget = row.nextElementSibling || row.previousElementSibling;
      row.remove();
      if (!rows.querySelector("[data-row]")) addRow();
      (focusTarget || addButton).querySelector?.("select")?.focus();
    });
    fitOperators(row);
  }

  function addRow() {
    const row = template.content.firstElementChild.cloneNode(true);
    added += 1;
    row.querySelectorAll("[id]").forEach((element) => {
      const label = row.querySelector(`label[for="${element.id}"]`);
      element.id = `${element.id}-${added}`;
      if (label) label.htmlFor = element.id;
    });
    rows.appendChild(row);
    wire(row);
    return row;
  }

  rows.querySelectorAll("[data-row]").forEach(wire);
  addButton.hidden = false;
  addButton.addEventListener("click", () => addRow().querySelector("select").focus());
}

// -- Line charts (uPlot) drawn from a table: the first column holds days, the columns
// marked data-series hold one line each. The table stays on the page with the numbers.
const WHOLE_STEPS = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6, 2e6, 5e6];
const PALETTE = ["#2458b3", "#d9480f", "#2b8a3e", "#862e9c", "#c2255c", "#5c7cfa", "#868e96"];
const AXIS_FONT = "12px system-ui, -apple-system, \"Segoe UI\", \"DejaVu Sans\", Roboto, sans-serif";
const measuring = document.createElement("canvas").getContext("2d");

// The width of an axis: its widest label, its ticks and its gap (uPlot's default is a fixed
// 50 pixels, which cut "14,000" to "4,000"). uPlot asks again as the labels change.
function axisSize(plot, values, axisIndex) {
  const axis = plot.axes[axisIndex];
  measuring.font = AXIS_FONT;
  const widest = Math.max(0, ...(values || []).map((label) => measuring.measureText(String(label)).width));
  return Math.ceil(widest + axis.ticks.size + axis.gap + 4);
}

function drawChart(element) {
  const table = document.getElementById(element.dataset.chart);
  if (!table || typeof window.uPlot === "undefined") return;
  const headers = [...table.tHead.rows[0].cells];
  const seriesColumns = headers.map((cell, index) => [cell, index]).filter(([cell]) => "series" in cell.dataset);
  const bodyRows = [...table.tBodies[0].rows];
  const days = bodyRows.map((row) => Date.parse(row.cells[0].dataset.day + "T00:00:00Z") / 1000);
  if (!days.length) return;
  const data = [days, ...seriesColumns.map(([, index]) => bodyRows.map((row) => Number(row.cells[index].dataset.value)))];
  const day = (seconds) => new Date(seconds * 1000).toISOString().slice(0, 10);
  // The legend shows the values of the day under the cursor, and the latest day's while
  // the cursor is elsewhere (uPlot would show "--").
  const last = days.length - 1;
  const shown = (sidx, value, idx) => (idx == null ? data[sidx][last] : value);
  const series = [{ label: "Day", value: (plot, value, sidx, idx) => day(shown(0, value, idx)) }, ...seriesColumns.map(([cell], n) => ({
    label: cell.textContent.trim(),
    value: (plot, value, sidx, idx) => shown(sidx, value, idx).toLocaleString("en-US"),
    stroke: PALETTE[n % PALETTE.length],
    width: 2,
    points: { show: days.length <= 31 },
  }))];
  const options = {
    width: element.clientWidth,
    height: 320,
    series,
    scales: { x: { time: true }, y: { range: (plot, min, max) => [0, Math.max(1, max * 1.1)] } },
    axes: [
      // One tick a day at most, labelled by its UTC date.
      { incrs: [86400, 2 * 86400, 7 * 86400, 14 * 86400, 28 * 86400], values: (plot, ticks) => ticks.map((tick) => day(tick).slice(5)), font: AXIS_FONT },
      // Whole crashes only, with thousands separators.
      { incrs: WHOLE_STEPS, values: (plot, ticks) => ticks.map((tick) => tick.toLocaleString("en-US")), font: AXIS_FONT, size: axisSize }],
    tzDate: (seconds) => window.uPlot.tzDate(new Date(seconds * 1000), "Etc/UTC"),
  };
  const plot = new window.uPlot(options, data, element);
  element.uplot = plot; // for the browser tests
  // Follow the element's width (a narrower window, a wider one): uPlot draws at a fixed size.
  let width = element.clientWidth;
  new ResizeObserver(() => {
    if (element.clientWidth === width) return; // the legend's height changed, not the width
    width = element.clientWidth;
    plot.setSize({ width, height: 320 });
  }).observe(element);
}

// -- Sortable tables: each header marked data-sort becomes a button that orders the rows by
// the column's data-value (or its text), ascending then descending.
function makeSortable(table) {
  const body = table.tBodies[0];
  [...table.tHead.rows[0].cells].forEach((header, index) => {
    if (!("sort" in header.dataset)) return;
    const button = document.createElement("button");
    button.type = "button";
    button.className = "sort";
    button.textContent = header.textContent;
    header.replaceChildren(button);
    button.addEventListener("click", () => {
      const descending = header.getAttribute("aria-sort") === "ascending";
      const numeric = header.dataset.sort === "number";
      const key = (row) => {
        const cell = row.cells[index];
        const raw = cell && ("value" in cell.dataset ? cell.dataset.value : cell.textContent.trim());
        return numeric ? Number(raw) : raw || "";
      };
      const rows = [...body.rows].filter((row) => row.cells.length > index);
      rows.sort((a, b) => {
        const [x, y] = [key(a), key(b)];
        const order = numeric ? x - y : String(x).localeCompare(String(y));
        return descending ? -order : order;
      });
      table.tHead.querySelectorAll("th[aria-sort]").forEach((cell) => cell.removeAttribute("aria-sort"));
      header.setAttribute("aria-sort", descending ? "descending" : "ascending");
      body.append(...rows);
      if (header.dataset.sortKey) keepSort((descending ? "-" : "") + header.dataset.sortKey);
    });
  });
}

// The order chosen goes into the address (_sort), the form and the links that keep it, so
// that a sorted view can be bookmarked and shared; the server sorts it the same way.
function keepSort(value) {
  const sort = value === "rank" ? null : value; // the ranking's own order
  const withSort = (url) => {
    if (sort) url.searchParams.set("_sort", sort);
    else url.searchParams.delete("_sort");
    return url;
  };
  window.history.replaceState(null, "", withSort(new URL(window.location.href)).href);
  document.querySelectorAll("a[data-keeps-sort]").forEach((link) => { link.href = withSort(new URL(link.href)).href; });
  document.querySelectorAll("form[data-keeps-sort]").forEach((form) => {
    let field = form.querySelector('input[name="_sort"]');
    if (!field) {
      field = Object.assign(document.createElement("input"), { type: "hidden", name: "_sort" });
      form.append(field);
    }
    field.value = sort || "";
    field.disabled = !sort;
  });
}

// -- The documentation's "Try it" forms: run the endpoint here and show its answer.
function setUpTryForm(form) {
  const result = document.querySelector("[data-try-result]");
  const output = result.querySelector("[data-try-output]");
  const status = result.querySelector("[data-try-status]");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const method = form.dataset.method;
    const headers = { Accept: "application/json" };
    let url = form.dataset.pathTemplate || form.getAttribute("action");
    const options = { method, headers, credentials: "same-origin" };
    if (method === "GET" || method === "HEAD") {
      const params = new URLSearchParams();
      form.querySelectorAll(".try-row").forEach((row) => {
        const name = row.querySelector("[data-param-name]").value.trim();
        const value = row.querySelector("[data-param-value]").value;
        if (!name) return;
        // A part of the path (/symbols/<debug_file>/...) or a query parameter.
        if (url.includes(`<${name}>`)) url = url.replace(`<${name}>`, encodeURIComponent(value));
        else params.append(name, value);
      });
      const query = params.toString();
      if (query) url += "?" + query;
    } else {
      const token = form.querySelector("[data-auth-token]").value.trim();
      if (token) headers["Auth-Token"] = token;
      const body = form.querySelector("[data-body]").value;
      headers["Content-Type"] = body.trim().startsWith("{") ? "application/json" : "application/x-www-form-urlencoded";
      options.body = body;
    }
    status.textContent = "(running…)";
    result.hidden = false;
    try {
      const answer = await fetch(url, options);
      const text = method === "HEAD" ? `Content-Length: ${answer.headers.get("Content-Length")}` : await answer.text();
      let shown = text;
      try { shown = JSON.stringify(JSON.parse(text), null, 2); } catch (error) { /* not JSON: as it came */ }
      status.textContent = `${answer.status} ${answer.statusText} · ${method} ${url}`;
      output.textContent = shown;
    } catch (error) {
      status.textContent = "(the request failed)";
      output.textContent = String(error);
    }
  });
}

function setUp() {
  const body = document.body;
  if (body.dataset.pendingCrash) pollPendingReport(body);
  document.querySelectorAll("[data-builder]").forEach(setUpBuilder);
  document.querySelectorAll("[data-chart]").forEach(drawChart);
  document.querySelectorAll("table[data-sortable]").forEach(makeSortable);
  document.querySelectorAll("form[data-api-form]").forEach(setUpTryForm);
}

if (document.readyState === "loading") {
  document.addEventListener("DOMContentLoaded", setUp);
} else {
  setUp();
}
