//! The pages, as maud templates over the workbook's views. Each page is a
//! list of pieces, some of them live fragments (an element with an `id` and
//! `hx-swap-oob="true"`) that `/ui/events` sends again when their HTML
//! changes. Every value is escaped (maud's default); values are formatted
//! as their columns' types say (`Workbook::format_value`).

use super::session::Caller;
use super::{may_read_financial, may_write};
use crate::{ApiError, App};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use csip_engine::{ColumnId, ColumnType, RowId, Value, ViewPage, ViewResult, Workbook};
use csip_store::Role;
use maud::{DOCTYPE, Markup, PreEscaped, html};
use std::collections::HashMap;

/// Rows per group a page shows at most (the rest are counted).
const ROWS_SHOWN: usize = 500;

/// A page and its parameters.
#[derive(Clone, Debug)]
pub(crate) enum Page {
    CommandCenter { user: String },
    Account { row: u32 },
    Alignment { account: Option<String> },
    PlatformHealth,
}

impl Page {
    /// The page `kind` (as `/ui/events?page=` names it) with its parameters.
    pub(crate) fn of(kind: &str, query: &HashMap<String, String>, caller: &Caller) -> Option<Page> {
        let given = |k: &str| {
            query
                .get(k)
                .map(|v| v.trim().to_string())
                .filter(|v| !v.is_empty())
        };
        Some(match kind {
            "command-center" => Page::CommandCenter {
                user: given("user").unwrap_or_else(|| caller.principal.person.clone()),
            },
            "account" => Page::Account {
                row: given("account")?.parse().ok()?,
            },
            "alignment" => Page::Alignment {
                account: given("account"),
            },
            "platform-health" => Page::PlatformHealth,
            _ => return None,
        })
    }

    fn kind(&self) -> &'static str {
        match self {
            Page::CommandCenter { .. } => "command-center",
            Page::Account { .. } => "account",
            Page::Alignment { .. } => "alignment",
            Page::PlatformHealth => "platform-health",
        }
    }

    /// Its live updates' address, from `generation` on.
    fn events_url(&self, account: Option<u32>, generation: u64) -> String {
        let mut q = form_urlencoded::Serializer::new(String::new());
        q.append_pair("page", self.kind());
        match self {
            Page::CommandCenter { user } => {
                q.append_pair("user", user);
            }
            Page::Account { row } => {
                q.append_pair("account", &row.to_string());
            }
            Page::Alignment { .. } => {
                if let Some(a) = account {
                    q.append_pair("account", &a.to_string());
                }
            }
            Page::PlatformHealth => {}
        }
        q.append_pair("since", &generation.to_string());
        format!("/ui/events?{}", q.finish())
    }
}

/// A live part of a page: its root's id, its HTML (the root carries
/// `hx-swap-oob="true"`), its parts that can be sent alone (id and HTML,
/// each root with `hx-swap-oob="true"`) and its shape (what must stay the
/// same for the parts alone to be sent).
pub(crate) struct Fragment {
    pub(crate) id: String,
    pub(crate) html: String,
    pub(crate) parts: Vec<(String, String)>,
    pub(crate) shape: String,
}

impl Fragment {
    fn whole(id: impl Into<String>, html: Markup) -> Fragment {
        Fragment {
            id: id.into(),
            html: html.into_string(),
            parts: Vec::new(),
            shape: String::new(),
        }
    }
}

enum Piece {
    Fixed(Markup),
    Live(Fragment),
}

/// A page rendered: its title, its pieces in order, the account it shows
/// (the board's, chosen when not given).
struct Rendered {
    title: String,
    pieces: Vec<Piece>,
    account: Option<u32>,
}

/// What a template needs to know of the caller and the workbook.
struct Ctx<'a> {
    wb: &'a Workbook,
    role: Role,
    person: &'a str,
    csrf: &'a str,
}

impl Ctx<'_> {
    /// A cell as people read it; a financial one only when the role may read it.
    fn cell(&self, column: Option<ColumnId>, value: &Value) -> String {
        let financial = column
            .and_then(|c| self.wb.column_schema(c).ok())
            .is_some_and(|s| matches!(s.ty, ColumnType::Currency));
        if financial && !may_read_financial(self.role) {
            return "—".to_string();
        }
        self.wb.format_value(column, value)
    }

    fn csrf_field(&self) -> Markup {
        html! { input type="hidden" name="csrf" value=(self.csrf); }
    }
}

/// The index of a view's field.
fn field(v: &ViewResult, name: &str) -> Option<usize> {
    v.fields.iter().position(|f| f == name)
}

/// A row's field, formatted.
fn shown(ctx: &Ctx, v: &ViewResult, values: &[Value], name: &str) -> String {
    field(v, name)
        .and_then(|i| {
            values
                .get(i)
                .map(|value| ctx.cell(v.field_columns[i], value))
        })
        .unwrap_or_default()
}

fn number(value: Option<&Value>) -> Option<f64> {
    match value {
        Some(Value::Number(n)) => n.to_string().parse().ok(),
        _ => None,
    }
}

/// A text's emoji and CSS class for a renewal risk, a health status or an
/// objective's status (colour is never the only signal: the emoji and the
/// text go with it).
fn signal(text: &str) -> (&'static str, &'static str) {
    let t = text.to_ascii_lowercase();
    if t.contains("critical") {
        ("🔴", "status-critical")
    } else if t.contains("at risk") {
        ("🟠", "status-at-risk")
    } else if t.contains("attention") || t.contains("warning") || t.contains("degraded") {
        ("🟡", "status-warning")
    } else if t.contains("achieved") {
        ("✅", "status-achieved")
    } else if t.contains("healthy") || t.contains("on track") {
        ("🟢", "status-healthy")
    } else if t.contains("in progress") {
        ("🔵", "status-progress")
    } else if t.contains("not started") || t.contains("no data") || t.contains("on hold") {
        ("⚪", "status-none")
    } else {
        ("", "status-none")
    }
}

/// A label with its emoji, unless the text has one already.
fn labelled(text: &str) -> String {
    let (emoji, _) = signal(text);
    if emoji.is_empty() || text.chars().next().is_some_and(|c| !c.is_ascii()) {
        text.to_string()
    } else {
        format!("{emoji} {text}")
    }
}

fn slug(text: &str) -> String {
    text.chars()
        .filter(char::is_ascii)
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect::<String>()
        .trim_matches('-')
        .to_string()
}

fn view(wb: &Workbook, name: &str, params: &[(&str, Value)]) -> Result<ViewResult, ApiError> {
    view_paged(wb, name, params, &ViewPage::first(ROWS_SHOWN))
}

fn view_paged(
    wb: &Workbook,
    name: &str,
    params: &[(&str, Value)],
    page: &ViewPage,
) -> Result<ViewResult, ApiError> {
    wb.view_page(name, params, page, &csip_engine::Budget::default())
        .map_err(|e| ApiError::internal(format!("the view `{name}` failed: {e}")))
}

/// What the Platform Health Dashboard shows of a portfolio: the metrics,
/// at most this many per health status (the worst statuses first)…
const DASHBOARD_METRICS: usize = 50;
/// …and of the heat map, this many accounts with at most this many APIs
/// each: a portfolio of 10,000 accounts would otherwise be a page of
/// megabytes. The rest is counted, and read through the REST views.
const HEATMAP_ACCOUNTS: usize = 25;
const HEATMAP_APIS: usize = 20;

fn table_col(wb: &Workbook, table: &str, column: &str) -> Result<ColumnId, ApiError> {
    let t = wb
        .table_id(table)
        .map_err(|e| ApiError::internal(e.to_string()))?;
    wb.column_id(t, column)
        .map_err(|e| ApiError::internal(e.to_string()))
}

/// The account row `row` of Account_Master, or 404.
fn account_row(wb: &Workbook, row: u32) -> Result<(csip_engine::TableId, RowId), ApiError> {
    let t = wb
        .table_id("Account_Master")
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let r = RowId::from_raw(row);
    if wb.contains_row(t, r) {
        Ok((t, r))
    } else {
        Err(ApiError::not_found(format!("there is no account {row}")))
    }
}

/// A view's rows as a table: one column per field, a group's key as a row
/// heading when grouped; a Health_Status cell with its emoji, text and class.
fn view_table(ctx: &Ctx, v: &ViewResult, id: &str, caption: &str) -> Markup {
    let status_field = field(v, "Health_Status");
    html! {
        table id=(id) hx-swap-oob="true" {
            caption { (caption) " (" (v.total) ")" }
            thead { tr {
                @for f in &v.fields { th scope="col" { (f.replace('_', " ")) } }
            } }
            tbody {
                @for g in &v.groups {
                    @if let Some(key) = &g.key {
                        @let text = ctx.cell(v.group_column, key);
                        tr class={ "group " (signal(&text).1) } {
                            th colspan=(v.fields.len()) scope="rowgroup" { (labelled(&text)) " (" (g.count) ")" }
                        }
                    }
                    @for r in &g.rows {
                        @let status = status_field.and_then(|i| r.values.get(i)).map(|s| ctx.cell(None, s));
                        tr class=[status.as_deref().map(|s| signal(s).1)] {
                            @for (i, value) in r.values.iter().enumerate() {
                                @let text = ctx.cell(v.field_columns[i], value);
                                @if Some(i) == status_field {
                                    td class={ "status " (signal(&text).1) } { (labelled(&text)) }
                                } @else {
                                    td { (text) }
                                }
                            }
                        }
                    }
                    @if g.count > g.rows.len() {
                        tr { td colspan=(v.fields.len()) { "… and " (g.count - g.rows.len()) " more" } }
                    }
                }
                @if v.group_count > v.groups.len() {
                    tr { td colspan=(v.fields.len()) {
                        "… and " (v.group_count - v.groups.len()) " more groups (GET /api/v1/views/" (caption) " pages through them)"
                    } }
                }
                @if v.total == 0 {
                    tr { td colspan=(v.fields.len()) { "None." } }
                }
            }
        }
    }
}

/// The page's pieces and title.
fn render(ctx: &Ctx, page: &Page) -> Result<Rendered, ApiError> {
    match page {
        Page::CommandCenter { user } => command_center_page(ctx, user),
        Page::Account { row } => account_page(ctx, *row),
        Page::Alignment { account } => alignment_page(ctx, account.as_deref()),
        Page::PlatformHealth => platform_health_page(ctx),
    }
}

const RISK_GROUPS: [&str; 4] = ["Critical", "At Risk", "Attention Needed", "Healthy"];

fn card(ctx: &Ctx, v: &ViewResult, r: &csip_engine::ViewRow, oob: bool) -> Markup {
    let id = r.row.get();
    let name = shown(ctx, v, &r.values, "Account_Name");
    let risk = shown(ctx, v, &r.values, "Renewal_Risk_Level");
    let score_text = shown(ctx, v, &r.values, "Health_Score");
    let score = number(field(v, "Health_Score").and_then(|i| r.values.get(i))).unwrap_or(0.0);
    let critical = risk == "Critical";
    let days = shown(ctx, v, &r.values, "Days_To_Renewal");
    html! {
        article class={ "card " (signal(&risk).1) @if critical { " critical" } } data-account=(name)
            id={ "card-" (id) } hx-swap-oob=[oob.then_some("true")] {
            h3 { (name) }
            p class="score" {
                meter min="0" max="100" low="50" high="75" optimum="100" value=(score) { (score_text) }
                " " strong { (score_text) } " " span class="unit" { "health" }
            }
            dl {
                dt { "Renewal risk" } dd class="risk" { (labelled(&risk)) }
                dt { "Days to renewal" } dd class="days" { (days) }
                dt { "ARR" } dd class="arr" { (shown(ctx, v, &r.values, "ARR")) }
                dt { "Last engagement" } dd class="last-engagement" {
                    @let last = shown(ctx, v, &r.values, "Last_Engagement_Date");
                    @if last.is_empty() { "none" } @else { (last) }
                }
            }
            div class="actions" {
                a class="view-details button" href={ "/ui/accounts/" (id) } { "View Details" }
                @if may_write(ctx.role) {
                    a class="log-engagement button" href={ "/ui/accounts/" (id) "#log-engagement" } { "Log Engagement" }
                    form class="generate-qbr" method="post" action={ "/ui/accounts/" (id) "/qbr" } {
                        (ctx.csrf_field())
                        button type="submit" { "Generate QBR" }
                    }
                }
            }
        }
    }
}

/// An admin's control to show another CSM's accounts.
fn person_picker(wb: &Workbook, user: &str) -> Markup {
    let mut csms: Vec<String> = match (
        wb.table_id("People_Team"),
        table_col(wb, "People_Team", "Role"),
    ) {
        (Ok(t), Ok(role)) => wb
            .rows(t)
            .unwrap_or_default()
            .iter()
            .filter(|r| wb.value(role, **r).is_ok_and(|v| wb.display(v) == "CSM"))
            .map(|r| wb.display(&Value::Row(t, *r)))
            .collect(),
        _ => Vec::new(),
    };
    csms.sort();
    html! {
        form id="choose-user" method="get" action="/ui/command-center" {
            label { "CSM " select name="user" {
                @for p in &csms { option value=(p) selected[p == user] { (p) } }
            } }
            " " button type="submit" { "Show" }
        }
    }
}

fn command_center_page(ctx: &Ctx, user: &str) -> Result<Rendered, ApiError> {
    let v = view(ctx.wb, "CSM Command Center", &[("user", Value::from(user))])
        .map_err(|e| ApiError::bad_request(e.message))?;
    let mut pieces = Vec::new();
    if ctx.role == Role::Admin {
        pieces.push(Piece::Fixed(person_picker(ctx.wb, user)));
    }
    pieces.push(Piece::Fixed(html! {
        p class="lede" {
            "Active accounts of " strong { (user) } ", the most urgent first: " (v.total) " in all."
        }
    }));
    for label in RISK_GROUPS {
        let group = v
            .groups
            .iter()
            .find(|g| g.key.as_ref().is_some_and(|k| ctx.wb.display(k) == label));
        let rows: &[csip_engine::ViewRow] = group.map_or(&[], |g| g.rows.as_slice());
        let count = group.map_or(0, |g| g.count);
        let id = format!("group-{}", slug(label));
        let heading = html! { h2 { (labelled(label)) " " span class="count" { "(" (count) ")" } } };
        let html = html! {
            section class={ "group " (signal(label).1) } data-group=(label) id=(id) hx-swap-oob="true" aria-label=(label) {
                (heading)
                @if rows.is_empty() { p class="empty" { "No accounts." } }
                div class="cards" {
                    @for r in rows { (card(ctx, &v, r, false)) }
                }
            }
        };
        let parts = rows
            .iter()
            .map(|r| {
                (
                    format!("card-{}", r.row.get()),
                    card(ctx, &v, r, true).into_string(),
                )
            })
            .collect::<Vec<_>>();
        let shape = format!(
            "{}|{}",
            heading.into_string(),
            parts
                .iter()
                .map(|(id, _)| id.as_str())
                .collect::<Vec<_>>()
                .join(",")
        );
        pieces.push(Piece::Live(Fragment {
            id,
            html: html.into_string(),
            parts,
            shape,
        }));
    }
    Ok(Rendered {
        title: "CSM Command Center".into(),
        pieces,
        account: None,
    })
}

/// A line chart of (date, score) points, inline SVG.
fn history_chart(points: &[(String, f64)]) -> Markup {
    let (w, h, pad) = (640.0_f64, 220.0_f64, 32.0_f64);
    let n = points.len();
    let x = |i: usize| {
        if n <= 1 {
            pad
        } else {
            pad + (w - 2.0 * pad) * (i as f64) / ((n - 1) as f64)
        }
    };
    let y = |s: f64| h - pad - (h - 2.0 * pad) * (s.clamp(0.0, 100.0) / 100.0);
    let line = points
        .iter()
        .enumerate()
        .map(|(i, (_, s))| format!("{:.1},{:.1}", x(i), y(*s)))
        .collect::<Vec<_>>()
        .join(" ");
    let summary = match (points.first(), points.last()) {
        (Some(a), Some(b)) => format!(
            "Health score from {} ({:.1}) to {} ({:.1}), {} points",
            a.0, a.1, b.0, b.1, n
        ),
        _ => "No health history yet".to_string(),
    };
    html! {
        figure {
            svg class="chart" viewBox={ "0 0 " (w) " " (h) } role="img" aria-label=(summary) {
                title { (summary) }
                @for level in [0.0, 50.0, 75.0, 100.0] {
                    line class="grid" x1=(pad) x2=(w - pad) y1=(y(level)) y2=(y(level)) {}
                    text class="axis" x="2" y=(y(level) + 4.0) { (level) }
                }
                @if n > 0 { polyline class="line" points=(line) {} }
                @if let Some((d, _)) = points.first() { text class="axis" x=(pad) y=(h - 8.0) { (d) } }
                @if let Some((d, _)) = points.last() { text class="axis end" x=(w - pad) y=(h - 8.0) text-anchor="end" { (d) } }
            }
            figcaption { (summary) }
        }
    }
}

fn account_page(ctx: &Ctx, row: u32) -> Result<Rendered, ApiError> {
    let wb = ctx.wb;
    let (accounts, r) = account_row(wb, row)?;
    let col = |name: &str| table_col(wb, "Account_Master", name);
    let value = |name: &str| -> (Option<ColumnId>, Value) {
        match col(name) {
            Ok(c) => (Some(c), wb.value(c, r).cloned().unwrap_or_default()),
            Err(_) => (None, Value::Blank),
        }
    };
    let text = |name: &str| {
        let (c, v) = value(name);
        ctx.cell(c, &v)
    };
    let name = text("Account_Name");
    let account = Value::Row(accounts, r);
    let today = wb.clock().today;
    let risk = text("Renewal_Risk_Level");
    let score = number(Some(&value("Health_Score").1)).unwrap_or(0.0);
    let summary = html! {
        section id="account-summary" hx-swap-oob="true" class={ "summary " (signal(&risk).1) } {
            p class="score" {
                meter min="0" max="100" low="50" high="75" optimum="100" value=(score) { (text("Health_Score")) }
                " " strong { (text("Health_Score")) } " health"
            }
            dl {
                dt { "Renewal risk" } dd class="risk" { (labelled(&risk)) }
                dt { "Days to renewal" } dd class="days" { (text("Days_To_Renewal")) }
                dt { "Renewal date" } dd { (text("Renewal_Date")) }
                dt { "ARR" } dd class="arr" { (text("ARR")) }
                dt { "CSM" } dd { (text("Customer_Success_Manager")) }
                dt { "Last engagement" } dd class="last-engagement" { (text("Last_Engagement_Date")) }
                dt { "Status" } dd { (text("Account_Status")) }
            }
        }
    };
    let components = html! {
        section id="components" hx-swap-oob="true" {
            h2 { "Health components" }
            dl class="components" {
                @for c in ["Platform_Technical_Health", "Business_Value_Realization", "Stakeholder_Engagement", "Strategic_Alignment"] {
                    @let n = number(Some(&value(c).1)).unwrap_or(0.0);
                    dt { (c.replace('_', " ")) }
                    dd { meter min="0" max="100" low="50" high="75" optimum="100" value=(n) { (text(c)) } " " (text(c)) }
                }
                dt { "Trend (30 days)" } dd { (text("Health_Score_Trend_30d")) }
            }
        }
    };
    let qualified = |table: &str, view_name: &str| format!("{table}/{view_name}");
    let acc = || ("account", account.clone());
    let metrics = view(
        wb,
        &qualified("Platform_Health_Metrics", "QBR Metrics"),
        &[acc()],
    )?;
    let objectives = view(
        wb,
        &qualified("Strategic_Objectives", "QBR Objectives"),
        &[acc()],
    )?;
    let risks = view(wb, &qualified("Risk_Register", "QBR Risks"), &[acc()])?;
    let long_ago = Value::Date(today - chrono::TimeDelta::days(3650));
    let engagements = view(
        wb,
        &qualified("Engagement_Log", "QBR Engagements"),
        &[
            acc(),
            ("from", long_ago),
            ("to", Value::Date(today + chrono::TimeDelta::days(3650))),
        ],
    )?;
    let history = view(
        wb,
        &qualified("Account_Master_History", "QBR Health History"),
        &[
            acc(),
            ("from", Value::Date(today - chrono::TimeDelta::days(365))),
            ("to", Value::Date(today)),
        ],
    )?;
    let points: Vec<(String, f64)> = history
        .rows()
        .filter_map(|row| {
            let d = shown(ctx, &history, &row.values, "Date");
            let s = number(field(&history, "Health_Score").and_then(|i| row.values.get(i)))?;
            Some((d, s))
        })
        .collect();
    let section = |id: &str, heading: &str, table: Markup| {
        Piece::Live(Fragment::whole(
            id,
            html! { section id=(id) hx-swap-oob="true" { h2 { (heading) } (table) } },
        ))
    };
    let mut pieces = vec![
        Piece::Live(Fragment::whole("account-summary", summary)),
        Piece::Live(Fragment::whole("components", components)),
        Piece::Live(Fragment::whole(
            "history",
            html! { section id="history" hx-swap-oob="true" { h2 { "Health history" } (history_chart(&points)) } },
        )),
        section(
            "metrics",
            "Platform metrics",
            view_table(ctx, &metrics, "metrics-table", "Metrics"),
        ),
        section(
            "objectives",
            "Strategic objectives",
            view_table(ctx, &objectives, "objectives-table", "Objectives"),
        ),
        section(
            "risks",
            "Open risks",
            view_table(ctx, &risks, "risks-table", "Risks"),
        ),
        section(
            "engagements",
            "Engagements",
            view_table(ctx, &engagements, "engagements-table", "Engagements"),
        ),
    ];
    if may_write(ctx.role) {
        let select = |column: &str| -> Vec<String> {
            table_col(wb, "Engagement_Log", column)
                .ok()
                .and_then(|c| wb.column_schema(c).ok())
                .and_then(|s| match &s.ty {
                    ColumnType::Select(options) => Some(options.clone()),
                    _ => None,
                })
                .unwrap_or_default()
        };
        pieces.push(Piece::Fixed(html! {
            section class="forms" {
                h2 { "Log an engagement" }
                form id="log-engagement" method="post" action={ "/ui/accounts/" (row) "/engagements" } {
                    (ctx.csrf_field())
                    p { label { "Date " input type="date" name="Engagement_Date" required value=(today.format("%Y-%m-%d")); } }
                    p { label { "Type " select name="Engagement_Type" required {
                        @for o in select("Engagement_Type") { option value=(o) { (o) } }
                    } } }
                    p { label { "Summary " textarea name="Summary" rows="4" {} } }
                    p { label { "Sentiment " select name="Sentiment" {
                        @for o in select("Sentiment") { option value=(o) selected[o == "Neutral"] { (o) } }
                    } } }
                    p { label { "Relationship depth (1–10) " input type="number" name="Relationship_Depth_Score" min="1" max="10" step="1"; } }
                    p { button type="submit" { "Log engagement" } }
                }
                h2 { "QBR deck" }
                form class="generate-qbr" method="post" action={ "/ui/accounts/" (row) "/qbr" } {
                    (ctx.csrf_field())
                    p { "The last 90 days, as a deck and a PDF. " button type="submit" { "Generate QBR" } }
                }
            }
        }));
    }
    Ok(Rendered {
        title: name,
        pieces,
        account: Some(row),
    })
}

const BOARD_COLUMNS: [&str; 5] = [
    "Not Started",
    "In Progress",
    "On Track",
    "At Risk",
    "Achieved",
];

/// A board status with its emoji: At Risk in red, Achieved in green.
fn board_label(status: &str) -> String {
    if status == "At Risk" {
        format!("🔴 {status}")
    } else {
        labelled(status)
    }
}

fn objective_card(
    ctx: &Ctx,
    v: &ViewResult,
    r: &csip_engine::ViewRow,
    status: &str,
    statuses: &[String],
    oob: bool,
) -> Markup {
    let id = r.row.get();
    let class = match status {
        "At Risk" => " at-risk",
        "Achieved" => " achieved",
        _ => "",
    };
    let progress =
        number(field(v, "Progress_Percent").and_then(|i| r.values.get(i))).unwrap_or(0.0);
    let name = shown(ctx, v, &r.values, "Objective_Name");
    html! {
        article class={ "objective" (class) } id={ "objective-" (id) } data-objective=(id) draggable="true"
            hx-swap-oob=[oob.then_some("true")] {
            h3 { (name) }
            dl {
                dt { "Status" } dd class="status" { (board_label(status)) }
                dt { "Pillar" } dd { (shown(ctx, v, &r.values, "Strategic_Pillar")) }
                dt { "Progress" } dd { meter min="0" max="100" value=(progress) { (shown(ctx, v, &r.values, "Progress_Percent")) } " " (shown(ctx, v, &r.values, "Progress_Percent")) }
                dt { "Business value" } dd { (shown(ctx, v, &r.values, "Business_Value_USD")) }
                dt { "Target date" } dd { (shown(ctx, v, &r.values, "Target_Date")) }
                dt { "Health" } dd { (shown(ctx, v, &r.values, "Health_Indicator")) }
                dt { "Capabilities" } dd class="capabilities" { (shown(ctx, v, &r.values, "Capabilities")) }
                dt { "Value streams" } dd class="value-streams" { (shown(ctx, v, &r.values, "Value Streams")) }
            }
            @if may_write(ctx.role) {
                form class="move" method="post" action={ "/ui/objectives/" (id) "/status" } {
                    (ctx.csrf_field())
                    label { "Move to " select name="status" aria-label={ "Status of " (name) } {
                        @for s in statuses { option value=(s) selected[s == status] { (s) } }
                    } }
                    " " button type="submit" { "Move" }
                }
            }
        }
    }
}

/// The account the board shows: the one asked for (a row id or a name),
/// else the first of the caller's, else the first.
fn board_account(ctx: &Ctx, asked: Option<&str>) -> Result<Option<RowId>, ApiError> {
    let wb = ctx.wb;
    let t = wb
        .table_id("Account_Master")
        .map_err(|e| ApiError::internal(e.to_string()))?;
    if let Some(asked) = asked {
        if let Ok(n) = asked.parse::<u32>() {
            return account_row(wb, n).map(|(_, r)| Some(r));
        }
        return csip_workbook::lookup::find_account(wb, asked)
            .map(Some)
            .ok_or_else(|| ApiError::not_found(format!("there is no account “{asked}”")));
    }
    let csm = table_col(wb, "Account_Master", "Customer_Success_Manager")?;
    let rows = wb.rows(t).map_err(|e| ApiError::internal(e.to_string()))?;
    let mine = rows.iter().find(|r| {
        wb.value(csm, **r)
            .is_ok_and(|v| wb.display(v).eq_ignore_ascii_case(ctx.person))
    });
    Ok(mine.or(rows.first()).copied())
}

fn alignment_page(ctx: &Ctx, asked: Option<&str>) -> Result<Rendered, ApiError> {
    let wb = ctx.wb;
    let accounts = wb
        .table_id("Account_Master")
        .map_err(|e| ApiError::internal(e.to_string()))?;
    let chosen = board_account(ctx, asked)?;
    let name_col = table_col(wb, "Account_Master", "Account_Name")?;
    let mut names: Vec<(u32, String)> = wb
        .rows(accounts)
        .map_err(|e| ApiError::internal(e.to_string()))?
        .iter()
        .map(|r| {
            (
                r.get(),
                wb.value(name_col, *r)
                    .map(|v| wb.display(v))
                    .unwrap_or_default(),
            )
        })
        .collect();
    names.sort_by(|a, b| a.1.cmp(&b.1));
    let control = html! {
        form id="choose-account" method="get" action="/ui/alignment" {
            label { "Account " select name="account" {
                @for (id, n) in &names { option value=(id) selected[Some(*id) == chosen.map(RowId::get)] { (n) } }
            } }
            " " button type="submit" { "Show" }
        }
    };
    let mut pieces = vec![Piece::Fixed(control)];
    let Some(account) = chosen else {
        pieces.push(Piece::Fixed(html! { p { "There are no accounts." } }));
        return Ok(Rendered {
            title: "Strategic Alignment Board".into(),
            pieces,
            account: None,
        });
    };
    let v = view(
        wb,
        "Strategic Alignment Board",
        &[("account", Value::Row(accounts, account))],
    )?;
    let statuses: Vec<String> = table_col(wb, "Strategic_Objectives", "Status")
        .ok()
        .and_then(|c| wb.column_schema(c).ok())
        .and_then(|s| match &s.ty {
            ColumnType::Select(o) => Some(o.clone()),
            _ => None,
        })
        .unwrap_or_else(|| BOARD_COLUMNS.iter().map(ToString::to_string).collect());
    let mut columns = Vec::new();
    for status in BOARD_COLUMNS {
        let group = v
            .groups
            .iter()
            .find(|g| g.key.as_ref().is_some_and(|k| wb.display(k) == status));
        let rows: &[csip_engine::ViewRow] = group.map_or(&[], |g| g.rows.as_slice());
        let id = format!("column-{}", slug(status));
        let count = group.map_or(0, |g| g.count);
        let heading =
            html! { h2 { (board_label(status)) " " span class="count" { "(" (count) ")" } } };
        let html = html! {
            section class={ "column " (signal(status).1) } data-status=(status) id=(id) hx-swap-oob="true" {
                (heading)
                @for r in rows { (objective_card(ctx, &v, r, status, &statuses, false)) }
                @if rows.is_empty() { p class="empty" { "None." } }
            }
        };
        let parts: Vec<(String, String)> = rows
            .iter()
            .map(|r| {
                (
                    format!("objective-{}", r.row.get()),
                    objective_card(ctx, &v, r, status, &statuses, true).into_string(),
                )
            })
            .collect();
        let shape = format!(
            "{}|{}",
            heading.into_string(),
            parts
                .iter()
                .map(|(id, _)| id.as_str())
                .collect::<Vec<_>>()
                .join(",")
        );
        columns.push(Fragment {
            id,
            html: html.into_string(),
            parts,
            shape,
        });
    }
    let summary = html! {
        aside id="summary" hx-swap-oob="true" {
            h2 { "Summary" }
            dl {
                @for (name, value) in &v.tiles {
                    @let text = if name.contains("USD") && !may_read_financial(ctx.role) { "—".to_string() } else { wb.format_value(None, value) };
                    div class="tile" data-tile=(name) { dt { (name) } dd { (text) } }
                }
            }
        }
    };
    pieces.push(Piece::Fixed(html! {
        p class="hint" {
            "Drag a card to another column, or choose its status and press Move."
        }
    }));
    pieces.push(Piece::Fixed(PreEscaped(
        r#"<div class="board-layout"><div class="board">"#.to_string(),
    )));
    pieces.extend(columns.into_iter().map(Piece::Live));
    pieces.push(Piece::Fixed(PreEscaped("</div>".to_string())));
    pieces.push(Piece::Live(Fragment::whole("summary", summary)));
    pieces.push(Piece::Fixed(PreEscaped("</div>".to_string())));
    Ok(Rendered {
        title: "Strategic Alignment Board".into(),
        pieces,
        account: Some(account.get()),
    })
}

fn platform_health_page(ctx: &Ctx) -> Result<Rendered, ApiError> {
    let wb = ctx.wb;
    let v = view_paged(
        wb,
        "Platform Health Dashboard",
        &[],
        &ViewPage::first(DASHBOARD_METRICS),
    )?;
    let kpis = html! {
        section id="kpis" hx-swap-oob="true" aria-label="Key figures" {
            @for (name, value) in &v.tiles {
                div class="tile" data-tile=(name) {
                    span class="label" { (name) }
                    " "
                    span class="value" { (wb.format_value(None, value)) }
                }
            }
        }
    };
    let mut pieces = vec![
        Piece::Live(Fragment::whole("kpis", kpis)),
        Piece::Fixed(html! { h2 { "Metrics by health status" } }),
    ];
    // The metrics: the group key is the Health_Status, shown on each row.
    let metrics = html! {
        table id="metrics" hx-swap-oob="true" {
            caption { "Platform metrics (" (v.total) ")" }
            thead { tr {
                th scope="col" { "Health status" }
                @for f in &v.fields { th scope="col" { (f.replace('_', " ")) } }
            } }
            tbody {
                @for g in &v.groups {
                    @let status = g.key.as_ref().map(|k| ctx.cell(v.group_column, k)).unwrap_or_default();
                    @for r in &g.rows {
                        tr class=(signal(&status).1) {
                            td class="status" { (labelled(&status)) }
                            @for (i, value) in r.values.iter().enumerate() {
                                td { (ctx.cell(v.field_columns[i], value)) }
                            }
                        }
                    }
                    @if g.count > g.rows.len() {
                        tr { td colspan=(v.fields.len() + 1) { "… and " (g.count - g.rows.len()) " more " (status) } }
                    }
                }
            }
        }
    };
    pieces.push(Piece::Live(Fragment::whole("metrics", metrics)));
    for link in &v.included {
        let params: Vec<(&str, Value)> = link
            .params
            .iter()
            .map(|(k, val)| (k.as_str(), val.clone()))
            .collect();
        let mut page = ViewPage::first(HEATMAP_APIS);
        page.group_limit = Some(HEATMAP_ACCOUNTS);
        let included = view_paged(wb, &link.name, &params, &page)?;
        pieces.push(Piece::Fixed(html! { h2 { (link.name) } }));
        pieces.push(Piece::Live(Fragment::whole(
            "heatmap",
            view_table(ctx, &included, "heatmap", &link.name),
        )));
    }
    Ok(Rendered {
        title: "Platform Health Dashboard".into(),
        pieces,
        account: None,
    })
}

/// The page's live fragments now, and the generation they are of.
pub(crate) async fn fragments(
    app: &App,
    caller: &Caller,
    page: &Page,
) -> Result<(u64, Vec<Fragment>), ApiError> {
    let snapshot = app.snapshot();
    let (caller, page) = (caller.clone(), page.clone());
    tokio::task::spawn_blocking(move || {
        let ctx = Ctx {
            wb: &snapshot.wb,
            role: caller.principal.role,
            person: &caller.principal.person,
            csrf: &caller.csrf,
        };
        let rendered = render(&ctx, &page)?;
        let fragments = rendered
            .pieces
            .into_iter()
            .filter_map(|p| match p {
                Piece::Live(f) => Some(f),
                Piece::Fixed(_) => None,
            })
            .collect();
        Ok((snapshot.generation, fragments))
    })
    .await
    .map_err(|e| ApiError::internal(format!("rendering failed: {e}")))?
}

const NAV: [(&str, &str, &str); 3] = [
    (
        "command-center",
        "/ui/command-center",
        "🧭 CSM Command Center",
    ),
    ("alignment", "/ui/alignment", "🎯 Strategic Alignment Board"),
    (
        "platform-health",
        "/ui/platform-health",
        "📈 Platform Health Dashboard",
    ),
];

fn document(
    title: &str,
    caller: Option<(&Ctx, &str)>,
    live: Option<String>,
    board: bool,
    main: Markup,
) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · CSIP" }
                link rel="stylesheet" href="/ui/assets/ui.css";
                @if live.is_some() {
                    script src="/ui/assets/htmx.min.js" defer {}
                    script src="/ui/assets/sse.js" defer {}
                }
                @if board { script src="/ui/assets/board.js" defer {} }
            }
            body {
                a class="skip" href="#main" { "Skip to the content" }
                @if let Some((ctx, current)) = caller {
                    header class="top" {
                        nav aria-label="Dashboards" {
                            ul {
                                @for (key, href, label) in NAV {
                                    li { a href=(href) aria-current=[(key == current).then_some("page")] { (label) } }
                                }
                            }
                        }
                        div class="who" {
                            span { (ctx.person) " · " (ctx.role.name()) }
                            form id="logout" method="post" action="/ui/logout" {
                                (ctx.csrf_field())
                                button type="submit" { "Sign out" }
                            }
                        }
                    }
                }
                main id="main" {
                    h1 { (title) }
                    (main)
                }
                @if let Some(url) = live {
                    div hidden hx-ext="sse" sse-connect=(url) sse-swap="fragment" {}
                }
            }
        }
    }
}

fn html_answer(status: StatusCode, body: Markup) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-store"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'",
            ),
            (header::REFERRER_POLICY, "same-origin"),
        ],
        body.into_string(),
    )
        .into_response()
}

/// An error as a page, with its status.
pub(crate) fn error_page(e: &ApiError) -> Response {
    let body = document(
        "Something went wrong",
        None,
        None,
        false,
        html! {
            p class="error" { (e.message) }
            p { a href="/ui/" { "Back to the dashboards" } }
        },
    );
    html_answer(e.status, body)
}

/// The login page, with a message when the last try failed.
pub(crate) fn login(message: Option<&str>, status: StatusCode) -> Response {
    let body = document(
        "Sign in",
        None,
        None,
        false,
        html! {
            @if let Some(m) = message { p class="error" role="alert" { (m) } }
            form id="login" method="post" action="/ui/login" {
                p { label { "API token " input name="token" type="password" autocomplete="current-password" required autofocus; } }
                p { button type="submit" { "Sign in" } }
            }
            p class="hint" { "An admin makes tokens with " code { "csip token create" } "." }
        },
    );
    html_answer(status, body)
}

/// Who asks, or the answer for one who is not signed in.
macro_rules! signed_in {
    ($app:expr, $headers:expr) => {
        match super::session::caller(&$app, &$headers).await {
            Ok(c) => c,
            Err(r) => return r,
        }
    };
}

/// A page for `caller`.
async fn show(app: App, caller: Caller, page: Option<Page>, notice: Option<String>) -> Response {
    let Some(page) = page else {
        return error_page(&ApiError::bad_request("this page needs other parameters"));
    };
    let snapshot = app.snapshot();
    let answer = tokio::task::spawn_blocking(move || {
        let ctx = Ctx {
            wb: &snapshot.wb,
            role: caller.principal.role,
            person: &caller.principal.person,
            csrf: &caller.csrf,
        };
        let rendered = render(&ctx, &page)?;
        let main = html! {
            @if let Some(n) = &notice { p class="notice" role="status" { (n) } }
            @for p in &rendered.pieces {
                @match p {
                    Piece::Fixed(m) => (m),
                    Piece::Live(f) => (PreEscaped(&f.html)),
                }
            }
        };
        let url = page.events_url(rendered.account, snapshot.generation);
        Ok::<Markup, ApiError>(document(
            &rendered.title,
            Some((&ctx, page.kind())),
            Some(url),
            matches!(page, Page::Alignment { .. }),
            main,
        ))
    })
    .await;
    match answer {
        Ok(Ok(body)) => html_answer(StatusCode::OK, body),
        Ok(Err(e)) => error_page(&e),
        Err(e) => error_page(&ApiError::internal(format!("rendering failed: {e}"))),
    }
}

/// `GET /ui/command-center[?user=]`: the signed-in person's by default.
pub(crate) async fn command_center(
    State(app): State<App>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let caller = signed_in!(app, headers);
    let page = Page::of("command-center", &query, &caller);
    show(app, caller, page, None).await
}

/// `GET /ui/accounts/{row_id}[?qbr=job]`.
pub(crate) async fn account(
    State(app): State<App>,
    headers: HeaderMap,
    Path(row): Path<String>,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let caller = signed_in!(app, headers);
    let page = row.parse().ok().map(|row| Page::Account { row });
    let notice = query.get("qbr").and_then(|job| job.parse::<u64>().ok()).map(|job| {
        format!("The QBR deck of the last 90 days is being generated (job {job}); GET /api/v1/jobs/{job} says when it is ready.")
    });
    show(app, caller, page, notice).await
}

/// `GET /ui/alignment[?account=]`.
pub(crate) async fn alignment(
    State(app): State<App>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let caller = signed_in!(app, headers);
    let page = Page::of("alignment", &query, &caller);
    show(app, caller, page, None).await
}

/// `GET /ui/platform-health`.
pub(crate) async fn platform_health(State(app): State<App>, headers: HeaderMap) -> Response {
    let caller = signed_in!(app, headers);
    show(app, caller, Some(Page::PlatformHealth), None).await
}
