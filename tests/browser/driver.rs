//! A headless Chromium over WebDriver: navigation, waits, the console check,
//! screenshots at 1280 and 390 px and axe-core's accessibility check of each state.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine;
use fantoccini::elements::Element;
use fantoccini::wd::WebDriverCompatibleCommand;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

use crate::common::TestApp;

pub fn enabled() -> bool {
    match std::env::var("PORTICO_BROWSER_TESTS").as_deref() {
        Ok("1") => true,
        _ => {
            eprintln!("browser tests not run: set PORTICO_BROWSER_TESTS=1 (needs chromium and chromedriver)");
            false
        }
    }
}

/// Chromedriver's console log endpoint (`goog:loggingPrefs` must ask for it).
#[derive(Debug)]
struct BrowserLog;

impl WebDriverCompatibleCommand for BrowserLog {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (
            http::Method::POST,
            Some(json!({"type": "browser"}).to_string()),
        )
    }
}

/// A Chrome DevTools Protocol command through chromedriver.
#[derive(Debug)]
struct Cdp(&'static str, Value);

impl WebDriverCompatibleCommand for Cdp {
    fn endpoint(
        &self,
        base: &url::Url,
        session: Option<&str>,
    ) -> Result<url::Url, url::ParseError> {
        base.join(&format!(
            "session/{}/goog/cdp/execute",
            session.unwrap_or_default()
        ))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (
            http::Method::POST,
            Some(json!({"cmd": self.0, "params": self.1}).to_string()),
        )
    }
}

pub struct Browser {
    pub client: Client,
    driver: Child,
    pub base: String,
    shots: Option<PathBuf>,
    n: u32,
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

use crate::common::binary::free_port;

impl Browser {
    pub async fn start(app: &TestApp, screenshots: bool) -> Self {
        let driver_path =
            std::env::var("PORTICO_CHROMEDRIVER").unwrap_or("/usr/bin/chromedriver".into());
        let chromium = std::env::var("PORTICO_CHROMIUM").unwrap_or("/usr/bin/chromium".into());
        let port = free_port();
        let driver = Command::new(&driver_path)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {driver_path}: {e}"));
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": chromium,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                         "--window-size=1280,1000", "--no-first-run", "--no-default-browser-check",
                         "--disable-extensions", "--password-store=basic"],
            }),
        );
        caps.insert("goog:loggingPrefs".into(), json!({"browser": "ALL"}));
        let url = format!("http://127.0.0.1:{port}");
        let mut last = None;
        for _ in 0..100 {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector)
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(client) => {
                    let shots = screenshots.then(|| {
                        let dir =
                            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
                        std::fs::create_dir_all(&dir).unwrap();
                        dir
                    });
                    return Browser {
                        client,
                        driver,
                        base: app.address.clone(),
                        shots,
                        n: 0,
                    };
                }
                Err(e) => last = Some(e),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("chromedriver did not accept a session: {last:?}");
    }

    pub async fn goto(&self, path: &str) {
        self.client
            .goto(&format!("{}{path}", self.base))
            .await
            .unwrap();
        self.console_clean(path).await;
    }

    pub async fn el(&self, css: &str) -> Element {
        self.client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no element {css}: {e}"))
    }

    pub async fn click(&self, css: &str) {
        self.el(css)
            .await
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    pub async fn fill(&self, css: &str, text: &str) {
        let e = self.el(css).await;
        e.clear().await.unwrap();
        e.send_keys(text).await.unwrap();
    }

    pub async fn text(&self, css: &str) -> String {
        self.el(css).await.text().await.unwrap()
    }

    pub async fn prop(&self, css: &str, name: &str) -> Option<String> {
        self.el(css).await.prop(name).await.unwrap()
    }

    pub async fn attr(&self, css: &str, name: &str) -> Option<String> {
        self.el(css).await.attr(name).await.unwrap()
    }

    pub async fn value(&self, css: &str) -> String {
        self.el(css)
            .await
            .prop("value")
            .await
            .unwrap()
            .unwrap_or_default()
    }

    pub async fn path(&self) -> String {
        let u = self.client.current_url().await.unwrap();
        match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_owned(),
        }
    }

    pub async fn js(&self, script: &str) -> Value {
        self.client.execute(script, vec![]).await.unwrap()
    }

    /// Waits until `css` matches an element whose text contains `needle`.
    pub async fn wait_text(&self, css: &str, needle: &str) {
        for _ in 0..100 {
            if let Ok(els) = self.client.find_all(Locator::Css(css)).await {
                for e in els {
                    if e.text().await.unwrap_or_default().contains(needle) {
                        return;
                    }
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no {css} containing {needle:?} on {}", self.path().await);
    }

    pub async fn console(&self) -> Vec<Value> {
        let v = self
            .client
            .issue_cmd(BrowserLog)
            .await
            .expect("browser log");
        v.as_array().cloned().unwrap_or_default()
    }

    /// No console errors (script errors, CSP violations, failed loads) since the last check.
    pub async fn console_clean(&self, step: &str) {
        let errors: Vec<Value> = self
            .console()
            .await
            .into_iter()
            .filter(|e| e["level"] == "SEVERE" || e["level"] == "WARNING")
            .collect();
        assert!(
            errors.is_empty(),
            "console errors after {step}: {errors:#?}"
        );
    }

    /// Saves the page at desktop and phone width (full page height).
    pub async fn shot(&mut self, name: &str) {
        let Some(dir) = self.shots.clone() else {
            return;
        };
        self.n += 1;
        for (width, height, mobile) in [(1280, 900, false), (390, 844, true)] {
            self.client
                .issue_cmd(Cdp(
                    "Emulation.setDeviceMetricsOverride",
                    json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile}),
                ))
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(150)).await;
            let overflow = self
                .js("return Math.max(document.body.scrollWidth, window.innerWidth);")
                .await
                .as_i64()
                .unwrap_or_default();
            if overflow > width {
                let culprits = self
                    .js("var w = window.innerWidth, out = []; document.querySelectorAll('body *').forEach(function (e) { var r = e.getBoundingClientRect(); if (r.right > w + 1 && !e.closest('.table-wrap')) out.push(e.tagName + '.' + e.className + '#' + e.id + ':' + Math.round(r.right)); }); var d = document.querySelector('dialog[open]'); return 'inner ' + w + ' body ' + document.body.scrollWidth + ' main ' + document.querySelector('main').scrollWidth + (d ? ' dialog ' + JSON.stringify(d.getBoundingClientRect()) + ' dsw ' + d.scrollWidth : '') + ': ' + out.slice(0, 12).join(', ');")
                    .await;
                panic!("{name} is {overflow} px wide at {width} px: {culprits}");
            }
            let metrics = self
                .client
                .issue_cmd(Cdp("Page.getLayoutMetrics", json!({})))
                .await
                .unwrap();
            let full = metrics["cssContentSize"]["height"]
                .as_f64()
                .unwrap_or(height as f64)
                .min(5000.0);
            let shot = self
                .client
                .issue_cmd(Cdp(
                    "Page.captureScreenshot",
                    json!({"format": "png", "captureBeyondViewport": true,
                           "clip": {"x": 0, "y": 0, "width": width, "height": full.max(height as f64), "scale": 1}}),
                ))
                .await
                .unwrap();
            let png = base64::engine::general_purpose::STANDARD
                .decode(shot["data"].as_str().unwrap())
                .unwrap();
            std::fs::write(dir.join(format!("{:02}-{name}-{width}.png", self.n)), png).unwrap();
            self.accessible(&format!("{name} at {width} px")).await;
        }
        self.client
            .issue_cmd(Cdp("Emulation.clearDeviceMetricsOverride", json!({})))
            .await
            .unwrap();
        self.console_clean(name).await;
    }

    /// Emulates a 390 px phone (`true`) or the 1280 px desktop again.
    pub async fn phone(&self, on: bool) {
        let cmd = if on {
            Cdp(
                "Emulation.setDeviceMetricsOverride",
                json!({"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": true}),
            )
        } else {
            Cdp("Emulation.clearDeviceMetricsOverride", json!({}))
        };
        self.client.issue_cmd(cmd).await.unwrap();
        tokio::time::sleep(Duration::from_millis(150)).await;
    }

    /// axe-core (tests/browser-deps, installed by `.ci/run`) finds no serious or
    /// critical violation on the page as it is now.
    pub async fn accessible(&self, step: &str) {
        let loaded = self.js("return typeof window.axe === 'object';").await;
        if loaded != json!(true) {
            self.js(&format!("{}\nreturn 1;", axe_source())).await;
        }
        let found = self
            .client
            .execute_async(
                "var done = arguments[arguments.length - 1];
                 axe.run(document, { resultTypes: ['violations'] }).then(function (r) {
                   done(r.violations.filter(function (v) { return v.impact === 'serious' || v.impact === 'critical'; })
                     .map(function (v) { return { id: v.id, impact: v.impact, help: v.help,
                       nodes: v.nodes.slice(0, 5).map(function (n) { return n.target.join(' ') + ' | ' + n.failureSummary; }) }; }));
                 }, function (e) { done([{ id: 'axe-error', help: String(e) }]); });",
                vec![],
            )
            .await
            .unwrap();
        let list = found.as_array().cloned().unwrap_or_default();
        assert!(
            list.is_empty(),
            "axe-core: serious or critical violations on {step} ({}): {list:#?}",
            self.path().await
        );
    }

    pub async fn close(self) {
        self.client.clone().close().await.unwrap();
    }
}

/// axe-core's script, from the npm package the suite installs.
fn axe_source() -> &'static str {
    static SOURCE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SOURCE.get_or_init(|| {
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("tests/browser-deps/node_modules/axe-core/axe.min.js");
        std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; install it with `npm ci --prefix tests/browser-deps` (.ci/run does)",
                path.display()
            )
        })
    })
}
