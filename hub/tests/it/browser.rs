//! A headless Chromium driven over WebDriver (`chromedriver`), for the console's tests.
//! Without a browser installed the tests say so and skip, unless `PAYHUB_REQUIRE_BROWSER` is
//! set (as CI does): then a missing browser fails them.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::elements::Element;
use fantoccini::error::CmdError;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

/// How long a page may take to show what a test waits for.
const PATIENCE: Duration = Duration::from_secs(15);

/// `chromedriver` in a process group of its own, so the browsers it starts end with it.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = Command::new("kill").args(["-TERM", "--", &format!("-{}", self.0.id())]).status();
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub struct Browser {
    pub client: Client,
    /// Names this run's screenshots (`sqlite-login.png`).
    label: String,
    _driver: Driver,
}

fn chromedriver_present() -> bool {
    Command::new("chromedriver").arg("--version").stdout(Stdio::null()).status().is_ok_and(|s| s.success())
}

impl Browser {
    /// A fresh headless browser, or `None` (with a message) when none is installed.
    pub async fn start(label: &str) -> Option<Browser> {
        if !chromedriver_present() {
            assert!(
                std::env::var_os("PAYHUB_REQUIRE_BROWSER").is_none(),
                "PAYHUB_REQUIRE_BROWSER is set but chromedriver is not on PATH (apt-get install chromium chromium-driver)"
            );
            eprintln!("skipping the browser test: no chromedriver on PATH (apt-get install chromium chromium-driver)");
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let child = std::os::unix::process::CommandExt::process_group(
            Command::new("chromedriver").arg(format!("--port={port}")).stdout(Stdio::null()).stderr(Stdio::null()),
            0,
        )
        .spawn()
        .expect("start chromedriver");
        let driver = Driver(child);
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(started.elapsed() < PATIENCE, "chromedriver did not listen on port {port}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let mut capabilities = serde_json::Map::new();
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({ "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                             "--window-size=1280,1000"] }),
        );
        let client = ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
            .expect("open a Chromium session");
        Some(Browser { client, label: label.to_owned(), _driver: driver })
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap_or_else(|e| panic!("open {url}: {e}"));
    }

    /// Waits for an element to appear (a page to load) and returns it.
    pub async fn find(&self, css: &str) -> Element {
        match self.client.wait().at_most(PATIENCE).for_element(Locator::Css(css)).await {
            Ok(element) => element,
            Err(e) => {
                let page = self.client.source().await.unwrap_or_default();
                panic!("no `{css}` on {}: {e}\n{page}", self.path().await)
            }
        }
    }

    pub async fn fill(&self, css: &str, text: &str) {
        self.on_element(css, "fill", |field| async move {
            field.clear().await?;
            field.send_keys(text).await
        })
        .await
    }

    pub async fn click(&self, css: &str) {
        self.on_element(css, "click", |element| async move { element.click().await }).await
    }

    pub async fn text(&self, css: &str) -> String {
        self.on_element(css, "read", |element| async move { element.text().await }).await
    }

    /// Does `act` to the element `css` finds. One that both a page and the page it is
    /// navigating to show may be found on the first and gone by the time `act` reaches it: it
    /// is then found again, on the new page, and `act` done again from the start.
    async fn on_element<T, Act, Done>(&self, css: &str, what: &str, act: Act) -> T
    where
        Act: Fn(Element) -> Done,
        Done: Future<Output = Result<T, CmdError>>,
    {
        let started = Instant::now();
        loop {
            match act(self.find(css).await).await {
                Ok(value) => return value,
                Err(e) if e.is_stale_element_reference() && started.elapsed() < PATIENCE => {
                    tokio::time::sleep(Duration::from_millis(50)).await
                }
                Err(e) => panic!("{what} `{css}`: {e}"),
            }
        }
    }

    /// Waits until an element's text is what `wanted` looks for (the page a click loads may
    /// show the element the page before it showed too) and returns it.
    pub async fn text_when(&self, css: &str, wanted: impl Fn(&str) -> bool) -> String {
        let started = Instant::now();
        loop {
            if let Ok(element) = self.client.find(Locator::Css(css)).await
                && let Ok(text) = element.text().await
            {
                if wanted(&text) {
                    return text;
                }
                assert!(started.elapsed() < PATIENCE, "`{css}` on {} still says: {text}", self.path().await);
            }
            assert!(started.elapsed() < PATIENCE, "no `{css}` on {}", self.path().await);
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn path(&self) -> String {
        self.client.current_url().await.unwrap().path().to_owned()
    }

    /// Saves what the browser shows as `target/tmp/console-screenshots/<label>-<name>.png`.
    pub async fn screenshot(&self, name: &str) {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("console-screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        let png = self.client.screenshot().await.unwrap();
        std::fs::write(dir.join(format!("{}-{name}.png", self.label)), png).unwrap();
    }

    pub async fn close(self) {
        let _ = self.client.close().await;
    }
}
