//! The data viewer's chart tells the truth: it counts what the table lists under
//! every filter, a token keeps its colour from view to view, and the bars fit the
//! calls (minutes for a few minutes' calls, not one spike in a day).

mod common;

use chrono::TimeDelta;
use common::ui::{find, Ui};
use common::*;
use serde_json::{json, Value};

/// The chart and the table of one viewer page, as the page states them.
struct Viewer {
    /// Calls the table lists (a folded row counts its repeats).
    table: i64,
    /// Calls the chart says it counts.
    total: i64,
    /// (series key, colour, calls) per legend entry.
    legend: Vec<(String, String, i64)>,
    /// Colour of each row's token, as (token text, colour).
    rows: Vec<(String, String)>,
    bucket_seconds: i64,
    /// Calls per bar.
    bars: Vec<i64>,
    html: String,
}

fn attr(chunk: &str, name: &str) -> String {
    find(chunk, &format!("{name}=\""), "\"")
        .unwrap_or_else(|| panic!("no {name} in {chunk}"))
        .to_owned()
}

fn number(chunk: &str, name: &str) -> i64 {
    attr(chunk, name).parse().unwrap()
}

impl Viewer {
    async fn open(ui: &Ui, query: &str) -> Viewer {
        let (status, html) = ui.get(&format!("/ui/viewer{query}")).await;
        assert_eq!(status, 200, "{query}");
        let chart = find(&html, "<section class=\"card chart\"", ">").expect("a chart");
        let body = find(&html, "<tbody id=\"calls-body\">", "</tbody>").unwrap();
        let rows: Vec<&str> = body.split("<tr data-call=").skip(1).collect();
        let legend = html
            .split("<li data-series=\"")
            .skip(1)
            .map(|li| {
                let key = li[..li.find('"').unwrap()].to_owned();
                (key, attr(li, "data-colour"), number(li, "data-total"))
            })
            .collect();
        let bars = html
            .split("<g class=\"bar\"")
            .skip(1)
            .map(|g| number(g, "data-calls"))
            .collect();
        Viewer {
            table: rows.iter().map(|r| number(r, "data-repeats")).sum(),
            total: number(chart, "data-total"),
            legend,
            rows: rows
                .iter()
                .map(|r| {
                    let cell = find(r, "<td class=\"token-cell", "</td>").unwrap();
                    let text = &cell[cell.rfind('>').unwrap() + 1..];
                    (text.to_owned(), attr(cell, "data-colour"))
                })
                .collect(),
            bucket_seconds: number(chart, "data-bucket-seconds"),
            bars,
            html,
        }
    }

    fn legend_total(&self) -> i64 {
        self.legend.iter().map(|e| e.2).sum()
    }

    fn colour_of(&self, token: &Value) -> String {
        let key = format!("token-{}", token["id"]);
        let entry = self.legend.iter().find(|e| e.0 == key);
        entry
            .unwrap_or_else(|| panic!("{key} in {:?}", self.legend))
            .1
            .clone()
    }
}

/// Calls the API lists for `query` (folded rows by their repeats).
async fn listed(admin: &Session, query: &str) -> i64 {
    let page: Value = admin.read(&format!("/calls?limit=1000&{query}")).await;
    let calls = page["calls"].as_array().unwrap();
    calls.iter().map(|c| c["repeats"].as_i64().unwrap()).sum()
}

async fn legend_counts_what_the_table_lists(app: TestApp) {
    let (admin, orders, stock, shop, _erp) = app.traffic().await;
    // More refusals by an unknown token: folded rows count each call.
    for _ in 0..3 {
        app.ingest("orders", &"c".repeat(64), json!({})).await;
    }
    let ui = Ui::login(&app, "admin", ADMIN_PASSWORD).await;
    let views = [
        String::new(),
        "status=403".into(),
        "method=GET".into(),
        "status=4xx".into(),
        "status=201&method=POST".into(),
        format!("endpoint={}", stock["id"]),
        format!("token={}&endpoint={}", shop["id"], orders["id"]),
        "token_kind=unknown".into(),
        "q=x-1".into(),
    ];
    for query in views {
        let v = Viewer::open(&ui, &format!("?{query}")).await;
        let api = listed(&admin, &query).await;
        assert_eq!(v.table, api, "{query}: the table lists what the API lists");
        assert_eq!(
            v.total, v.table,
            "{query}: the chart counts the table's calls"
        );
        assert_eq!(v.legend_total(), v.table, "{query}: {:?}", v.legend);
        assert_eq!(
            v.bars.iter().sum::<i64>(),
            v.table,
            "{query}: every call in a bar"
        );
    }
    let refused = Viewer::open(&ui, "?status=403").await;
    assert_eq!((refused.table, refused.legend.len()), (1, 1));
    assert_eq!(refused.legend[0].0, format!("token-{}", shop["id"]));
    let none = Viewer::open(&ui, "?method=GET").await;
    assert_eq!((none.total, none.legend.len()), (0, 0));
    assert!(none.html.contains("No calls match these filters."));
    let all = Viewer::open(&ui, "").await;
    assert_eq!(
        all.total, 9,
        "6 calls, then 3 more refusals: {:?}",
        all.legend
    );
}

async fn a_token_keeps_its_colour_in_every_view(app: TestApp) {
    let m = app
        .mapped("orders", json!({}), &["alpha", "beta", "gamma"])
        .await;
    let stock = m.admin.create_endpoint("stock", json!({})).await;
    m.admin
        .map(&m.tokens[1]["id"], &stock["id"], "POST", true)
        .await;
    for (token, slug, n) in [
        (0, "orders", 3),
        (1, "orders", 1),
        (1, "stock", 4),
        (2, "orders", 2),
    ] {
        for _ in 0..n {
            let res = app.ingest(slug, m.value(token), json!({"n": n})).await;
            assert_eq!(res.status(), 201);
        }
    }
    let ui = Ui::login(&app, "admin", ADMIN_PASSWORD).await;
    let (alpha, beta, gamma) = (&m.tokens[0], &m.tokens[1], &m.tokens[2]);
    let all = Viewer::open(&ui, "").await;
    let on_orders = Viewer::open(&ui, &format!("?endpoint={}", m.endpoint["id"])).await;
    let on_stock = Viewer::open(&ui, &format!("?endpoint={}", stock["id"])).await;
    let picked = Viewer::open(&ui, &format!("?token={}&token={}", beta["id"], gamma["id"])).await;
    // The legend's order differs (busiest first): beta leads overall, alpha on orders.
    assert_eq!(all.legend[0].0, format!("token-{}", beta["id"]));
    assert_eq!(on_orders.legend[0].0, format!("token-{}", alpha["id"]));
    let beta_colour = all.colour_of(beta);
    for v in [&on_orders, &on_stock, &picked] {
        assert_eq!(v.colour_of(beta), beta_colour, "{:?}", v.legend);
    }
    assert_eq!(picked.colour_of(gamma), all.colour_of(gamma));
    assert_eq!(on_orders.colour_of(alpha), all.colour_of(alpha));
    let mut colours: Vec<String> = all.legend.iter().map(|e| e.1.clone()).collect();
    colours.sort();
    colours.dedup();
    assert_eq!(
        colours.len(),
        3,
        "three tokens, three colours: {:?}",
        all.legend
    );
    // The table marks each row's token in the chart's colour, and names it.
    for (name, colour) in &all.rows {
        let token = m
            .tokens
            .iter()
            .find(|t| t["name"] == *name.as_str())
            .unwrap();
        assert_eq!(*colour, all.colour_of(token), "{name}");
    }
    assert!(all.html.contains(">alpha <span class=\"muted\">3</span>"));
}

async fn the_bars_fit_the_calls(app: TestApp) {
    let m = app.mapped("orders", json!({}), &["shop-app"]).await;
    // Three calls over five minutes, just now.
    for minutes in [0, 2, 3] {
        app.clock.advance(TimeDelta::minutes(minutes));
        app.ingest("orders", m.value(0), json!({})).await;
    }
    let ui = Ui::login(&app, "admin", ADMIN_PASSWORD).await;
    let recent = Viewer::open(&ui, "").await;
    assert_eq!(recent.bucket_seconds, 60, "minute bars, not a day of hours");
    assert!((12..=60).contains(&recent.bars.len()), "{:?}", recent.bars);
    assert_eq!(
        recent.bars.iter().filter(|&&c| c > 0).count(),
        3,
        "{:?}",
        recent.bars
    );
    assert_eq!(recent.bars.first(), Some(&0), "room before the first call");
    assert_eq!(recent.bars.last(), Some(&0), "and after the last");
    assert!(recent.html.contains("one bar per minute"));

    // An explicit day is drawn as that day, in half hours (the narrowest bars of
    // which at most 60 fit).
    let now = app.clock.now();
    let day = format!(
        "?since={}&until={}",
        (now - TimeDelta::hours(23)).format("%Y-%m-%dT%H:00"),
        (now + TimeDelta::hours(1)).format("%Y-%m-%dT%H:00"),
    );
    let explicit = Viewer::open(&ui, &day).await;
    assert_eq!(explicit.bucket_seconds, 1800);
    assert_eq!(explicit.bars.len(), 48);
    assert_eq!(explicit.total, 3);
    assert!(explicit.html.contains("one bar per 30 minutes"));

    // Calls over three days: wider bars, still every call.
    let later = now.date() + TimeDelta::days(3);
    app.prepare_days(now.date(), later).await;
    app.clock.advance(TimeDelta::days(3));
    app.ingest("orders", m.value(0), json!({})).await;
    let ui = Ui::login(&app, "admin", ADMIN_PASSWORD).await;
    let spread = Viewer::open(&ui, "").await;
    assert!(spread.bucket_seconds >= 3600, "{}", spread.bucket_seconds);
    assert!((24..=60).contains(&spread.bars.len()), "{:?}", spread.bars);
    assert_eq!(spread.total, 4);
    assert_eq!(spread.bars.iter().sum::<i64>(), 4);
}

/// `/api/v1/stats` takes the call list's filters too.
async fn stats_api_takes_the_list_filters(app: TestApp) {
    let (admin, _, stock, shop, _) = app.traffic().await;
    let total = |stats: &Value| -> i64 {
        let series = stats["series"].as_array().unwrap();
        series.iter().map(|s| s["total"].as_i64().unwrap()).sum()
    };
    for query in [
        "status=403".to_owned(),
        "method=GET".into(),
        "status=4xx".into(),
        format!("endpoint={}", stock["id"]),
        format!("token={}&status=201", shop["id"]),
        "q=alice".into(),
    ] {
        let stats = admin.read(&format!("/stats?bucket=minute&{query}")).await;
        assert_eq!(
            total(&stats),
            listed(&admin, &query).await,
            "{query}: {stats}"
        );
    }
    let refused = admin.read("/stats?status=403").await;
    assert_eq!(refused["series"][0]["id"], shop["id"]);
    let bad = admin.get("/stats?method=BREW").await;
    assert_eq!(
        assert_problem(bad, 422, "validation_failed").await["field"],
        "method"
    );
}

on_each_backend!(
    legend_counts_what_the_table_lists_test,
    legend_counts_what_the_table_lists
);
on_each_backend!(
    a_token_keeps_its_colour_in_every_view_test,
    a_token_keeps_its_colour_in_every_view
);
on_each_backend!(the_bars_fit_the_calls_test, the_bars_fit_the_calls);
on_each_backend!(
    stats_api_takes_the_list_filters_test,
    stats_api_takes_the_list_filters
);
