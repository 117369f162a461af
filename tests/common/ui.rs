//! An HTML client for the admin UI: a cookie session, forms with their CSRF token,
//! redirects not followed (tests look at them), and readers for the pages.

use super::TestApp;

pub struct Ui {
    pub client: reqwest::Client,
    pub base: String,
}

pub fn find<'a>(html: &'a str, start: &str, end: &str) -> Option<&'a str> {
    let i = html.find(start)? + start.len();
    let j = html[i..].find(end)? + i;
    Some(&html[i..j])
}

/// Every `value="…"` of a 64-character token shown in a reveal input.
pub fn revealed_values(html: &str) -> Vec<String> {
    html.split("data-secret")
        .filter_map(|chunk| {
            let head = &chunk[chunk.rfind("value=\"")? + 7..];
            let v = &head[..head.find('"')?];
            (v.len() == 64).then(|| v.to_owned())
        })
        .collect()
}

/// Whether the switch with this id is on, if the page has it.
pub fn switch_on(html: &str, id: &str) -> Option<bool> {
    let end = html.find(&format!("id=\"{id}\""))?;
    let start = html[..end].rfind("<button")?;
    Some(html[start..end].contains("aria-checked=\"true\""))
}

impl Ui {
    pub fn new(app: &TestApp) -> Self {
        Ui {
            client: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: app.address.clone(),
        }
    }

    pub async fn login(app: &TestApp, user: &str, password: &str) -> Self {
        let ui = Ui::new(app);
        let res = ui
            .form_raw(
                "/ui/login",
                &[("username", user), ("password", password), ("next", "/ui/")],
            )
            .await;
        assert_eq!(res.status(), 303, "login as {user}");
        ui
    }

    pub async fn get(&self, path: &str) -> (u16, String) {
        let res = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        let status = res.status().as_u16();
        (status, res.text().await.unwrap())
    }

    pub async fn form_raw(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        self.client
            .post(format!("{}{path}", self.base))
            .form(fields)
            .send()
            .await
            .unwrap()
    }

    /// The CSRF token every form of this session carries.
    pub async fn csrf(&self) -> String {
        let (status, html) = self.get("/ui/viewer").await;
        assert_eq!(status, 200);
        find(&html, "name=\"_csrf\" value=\"", "\"")
            .unwrap()
            .to_owned()
    }

    /// Submits a form with this session's CSRF token.
    pub async fn submit(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let csrf = self.csrf().await;
        let mut all = vec![("_csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        self.form_raw(path, &all).await
    }

    /// Submits and follows the redirect back, returning the page shown next.
    pub async fn submit_and_follow(&self, path: &str, fields: &[(&str, &str)]) -> (u16, String) {
        let res = self.submit(path, fields).await;
        assert_eq!(res.status(), 303, "{path} redirects back");
        let to = res.headers()["location"].to_str().unwrap().to_owned();
        self.get(&to).await
    }
}

pub fn location(res: &reqwest::Response) -> String {
    res.headers()
        .get("location")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default()
}
