// HyperFormula on the CSIP health-score arithmetic, for the portfolio that
// `csip synth` wrote into each folder given. For every account the sheet holds
// the four components and the Health_Score as AVERAGEIFS / COUNTIFS formulas
// over the Metrics, Outcomes, Engagements and Objectives sheets, exactly the
// arithmetic of Account_Master (AVERAGEIFS, which HyperFormula lacks, is
// SUMIFS / COUNTIFS). One metric edit is one setCellContents call,
// which returns the changed cells.
//
// usage: node bench.mjs DIR [DIR...]   (prints one `result` line per folder)

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { HyperFormula } from 'hyperformula';

const TODAY = process.env.CSIP_TODAY ?? '2026-11-24';
const EDITS = Number(process.env.HF_EDITS ?? 0);

// RFC 4180 CSV, as the csv crate writes it.
function parseCsv(text) {
  const rows = [];
  let row = [], field = '', quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"' && text[i + 1] === '"') { field += '"'; i++; }
      else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') { row.push(field); field = ''; }
    else if (c === '\n') { row.push(field); rows.push(row); row = []; field = ''; }
    else if (c !== '\r') field += c;
  }
  if (field !== '' || row.length) { row.push(field); rows.push(row); }
  const [header, ...body] = rows;
  return body.map((r) => Object.fromEntries(header.map((h, k) => [h, r[k]])));
}

const table = (dir, name) => parseCsv(readFileSync(join(dir, `${name}.csv`), 'utf8'));
const num = (s) => (s === '' || s === undefined ? null : Number(s));

function serial(iso) {
  // Days since 1899-12-30, as spreadsheets count dates.
  return Math.round((Date.parse(`${iso}T00:00:00Z`) - Date.UTC(1899, 11, 30)) / 86400000);
}

function sheets(dir) {
  const accounts = table(dir, 'Account_Master');
  const metrics = table(dir, 'Platform_Health_Metrics');
  const outcomes = table(dir, 'Stakeholder_Outcomes');
  const engagements = table(dir, 'Engagement_Log');
  const objectives = table(dir, 'Strategic_Objectives');
  const m = metrics.length + 1, o = outcomes.length + 1, e = engagements.length + 1, s = objectives.length + 1;
  // Each detail sheet ends in a flag column: does the row count for its account's average?
  const Metrics = metrics.map((r, i) => {
    const n = i + 2;
    return [
      r.Account, r.Metric_Category, num(r.Current_Value), num(r.Warning_Threshold), num(r.Critical_Threshold),
      r.Higher_Is_Better === 'true',
      `=IF(ISBLANK(C${n}),0,IF(F${n},IF(C${n}<=E${n},20,IF(C${n}<=D${n},60,100)),IF(C${n}>=E${n},20,IF(C${n}>=D${n},60,100))))`,
      `=AND(NOT(ISBLANK(C${n})),OR(B${n}="Performance",B${n}="Reliability",B${n}="Security"))`,
    ];
  });
  const Outcomes = outcomes.map((r, i) => {
    const n = i + 2;
    return [
      r.Account, r.Status, num(r.Baseline_Value), num(r.Current_Value), num(r.Target_Value),
      `=IF(AND(NOT(ISBLANK(D${n})),E${n}<>C${n}),MAX(0,MIN(100,ROUND((D${n}-C${n})/(E${n}-C${n})*100,1))),0)`,
      `=AND(B${n}<>"Not Started",NOT(ISBLANK(D${n})),E${n}<>C${n})`,
    ];
  });
  const Engagements = engagements.map((r) => [r.Account, serial(r.Engagement_Date), num(r.Relationship_Depth_Score)]);
  const Objectives = objectives.map((r) => [r.Account, r.Status]);
  const range = (sheet, col, last) => `${sheet}!$${col}$2:$${col}$${last}`;
  // Average of `value` over the rows whose criteria hold; "" (Blank) when there are none.
  const averageIfs = (value, ...criteria) => {
    const count = `COUNTIFS(${criteria.join(',')})`;
    return `IF(${count}>0,SUMIFS(${value},${criteria.join(',')})/${count},"")`;
  };
  const Accounts = accounts.map((r, i) => {
    const n = i + 2;
    const a = `$A${n}`;
    const count = `COUNTIF(${range('Objectives', 'A', s)},${a})`;
    return [
      r.Account_Name,
      `=${averageIfs(range('Metrics', 'G', m), range('Metrics', 'A', m), a, range('Metrics', 'H', m), 'TRUE()')}`,
      `=${averageIfs(range('Outcomes', 'F', o), range('Outcomes', 'A', o), a, range('Outcomes', 'G', o), 'TRUE()')}`,
      `=${averageIfs(range('Engagements', 'C', e), range('Engagements', 'A', e), a, range('Engagements', 'B', e), '">="&Params!$A$1', range('Engagements', 'C', e), '"<>"')}`,
      `=IF(${count}>0,(COUNTIFS(${range('Objectives', 'A', s)},${a},${range('Objectives', 'B', s)},"On Track")+COUNTIFS(${range('Objectives', 'A', s)},${a},${range('Objectives', 'B', s)},"Achieved"))/${count}*100,"")`,
      `=N(B${n})*0.35+N(C${n})*0.3+N(D${n})*0.2+N(E${n})*0.15`,
    ];
  });
  const header = (...names) => [names];
  return {
    data: { metrics, accounts },
    sheets: {
      Params: [[serial(TODAY) - 90]],
      Metrics: header('Account', 'Category', 'Value', 'Warning', 'Critical', 'Higher', 'Status', 'Counts').concat(Metrics),
      Outcomes: header('Account', 'Status', 'Baseline', 'Current', 'Target', 'Percent', 'Counts').concat(Outcomes),
      Engagements: header('Account', 'Date', 'Depth').concat(Engagements),
      Objectives: header('Account', 'Status').concat(Objectives),
      Accounts: header('Account', 'PTH', 'BVR', 'SE', 'SA', 'Health').concat(Accounts),
    },
  };
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)];
}

for (const dir of process.argv.slice(2)) {
  const { data, sheets: book } = sheets(dir);
  let t = performance.now();
  const hf = HyperFormula.buildFromSheets(book, { licenseKey: 'gpl-v3' });
  const build = performance.now() - t;
  const metricsSheet = hf.getSheetId('Metrics');
  const accountsSheet = hf.getSheetId('Accounts');

  // The arithmetic is the workbook's: check one account against a plain computation.
  const first = data.accounts[0].Account_Name;
  const statuses = data.metrics
    .filter((r) => r.Account === first && ['Performance', 'Reliability', 'Security'].includes(r.Metric_Category) && r.Current_Value !== '')
    .map((r) => {
      const [v, w, c] = [Number(r.Current_Value), Number(r.Warning_Threshold), Number(r.Critical_Threshold)];
      return r.Higher_Is_Better === 'true' ? (v <= c ? 20 : v <= w ? 60 : 100) : v >= c ? 20 : v >= w ? 60 : 100;
    });
  const expected = statuses.reduce((a, b) => a + b, 0) / statuses.length;
  const got = hf.getCellValue({ sheet: accountsSheet, row: 1, col: 1 });
  if (Math.abs(got - expected) > 1e-9) {
    throw new Error(`HyperFormula's Platform_Technical_Health of ${first} is ${got}, expected ${expected}`);
  }

  const edits = EDITS || (data.accounts.length <= 30 ? 20 : 5);
  const times = [];
  let changed = 0;
  for (let i = 0; i < edits; i++) {
    const row = 1 + ((i * 7919) % data.metrics.length);
    t = performance.now();
    const changes = hf.setCellContents({ sheet: metricsSheet, row, col: 2 }, [[200 + ((i * 337) % 900)]]);
    times.push(performance.now() - t);
    changed += changes.length;
  }
  console.log(
    `result accounts=${data.accounts.length} metric_rows=${data.metrics.length} build_ms=${build.toFixed(1)} ` +
      `edit_ms_p50=${median(times).toFixed(3)} edits=${edits} changed_per_edit=${(changed / edits).toFixed(1)} health_first=${hf.getCellValue({ sheet: accountsSheet, row: 1, col: 5 })}`,
  );
}
