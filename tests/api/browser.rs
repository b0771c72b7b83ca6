//! The whole onboarding in headless Chromium (Debian's `chromium` and `chromium-driver`,
//! installed here if missing), driven with fantoccini, as a contractor's office admin and ops
//! meet it: tenant (a typo refused at its field, a withdrawal) → ops approve → the Continue
//! button behind the emailed link → credentials (a refusal keeps the Client ID) → mappings
//! (one plans form, the trades grid, a trade not offered, reminders) → review → live, and a
//! Disconnect that asks first.
//!
//! Every page visited is checked at 1366×900 and at 390×844 (a screenshot of each, in
//! `<target>/screenshots/NN-name-{wide,phone}.png`), at 360 px for horizontal scrolling, and
//! with axe-core (`node_modules/axe-core`, installed by `scripts/test` from package-lock.json)
//! for serious or critical accessibility violations; any of them fails the test.
use crate::helpers::{onb as common_onb, smtp as common_smtp};

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use common_onb::{ADMIN_A, OPS, PASSWORD, World, world};
use common_smtp::SmtpSink;
use fantoccini::{Client, ClientBuilder, Locator};
use secrecy::SecretString;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

fn ensure_chromium() {
    if std::path::Path::new(CHROMEDRIVER).exists() && std::path::Path::new(CHROMIUM).exists() {
        return;
    }
    let ok = Command::new("sh")
        .args([
            "-c",
            "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver",
        ])
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "chromium and chromium-driver are missing and could not be installed (need root and network)"
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// chromedriver on a random port; killed on drop.
struct Driver {
    child: Child,
    url: String,
    _profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_driver() -> Driver {
    let port = free_port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
        _profile: tempfile::tempdir().unwrap(),
    }
}

async fn browser(driver: &Driver) -> Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let profile = driver._profile.path().display().to_string();
    let caps = serde_json::json!({
        "goog:chromeOptions": {
            "binary": CHROMIUM,
            "args": [
                "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", "--window-size=1366,900", "--hide-scrollbars", format!("--user-data-dir={profile}"),
            ]
        }
    });
    let serde_json::Value::Object(caps) = caps else {
        unreachable!()
    };
    ClientBuilder::rustls()
        .expect("tls")
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("webdriver session")
}

/// Screenshots at both sizes, the 360 px scroll check and axe-core, for every page visited.
struct Shots {
    dir: PathBuf,
    n: usize,
    axe: String,
    /// Serious or critical axe violations, and pages that scroll sideways, seen so far.
    problems: Vec<String>,
}

const WIDE: (u32, u32) = (1366, 900);
const PHONE: (u32, u32) = (390, 844);
const NARROWEST: u32 = 360;

/// Runs axe-core on the page; answers the serious and critical violations, one line each.
const AXE_RUN: &str = r#"
const done = arguments[arguments.length - 1];
axe.run(document, { resultTypes: ["violations"] }).then(function (r) {
  done(r.violations
    .filter(function (v) { return v.impact === "serious" || v.impact === "critical"; })
    .map(function (v) {
      return v.impact + " " + v.id + ": " + v.help + " at " +
        v.nodes.slice(0, 3).map(function (n) { return n.target.join(" "); }).join(", ");
    }));
}, function (e) { done(["axe failed: " + e]); });
"#;

/// How far the page is wider than the viewport (0 when it does not scroll sideways), the
/// viewport width, and whether "Sign out" (when present) is inside the viewport.
const FITS: &str = r#"
const doc = document.documentElement;
const out = document.getElementById("signout");
const r = out ? out.getBoundingClientRect() : null;
return [Math.max(doc.scrollWidth, document.body.scrollWidth) - window.innerWidth, window.innerWidth,
        r === null || (r.right <= window.innerWidth && r.left >= 0)];
"#;

impl Shots {
    fn new() -> Shots {
        let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| "target".into());
        let dir = PathBuf::from(target).join("screenshots");
        std::fs::create_dir_all(&dir).unwrap();
        let axe_path =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("node_modules/axe-core/axe.min.js");
        let axe = std::fs::read_to_string(&axe_path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; run `npm ci` (scripts/test does) to install axe-core",
                axe_path.display()
            )
        });
        Shots {
            dir,
            n: 0,
            axe,
            problems: Vec::new(),
        }
    }

    async fn resize(c: &Client, (w, h): (u32, u32)) {
        c.set_window_size(w, h).await.expect("resize");
    }

    async fn shot(&self, c: &Client, name: &str) {
        let png = c.screenshot().await.expect("screenshot");
        let path = self.dir.join(format!("{:02}-{name}.png", self.n));
        std::fs::write(&path, png).unwrap();
        eprintln!("screenshot: {}", path.display());
    }

    /// Checks the page at every size and with axe, then leaves it at the wide size.
    async fn take(&mut self, c: &Client, name: &str) {
        self.n += 1;
        let url = c
            .current_url()
            .await
            .map(|u| u.path().to_owned())
            .unwrap_or_default();
        Self::resize(c, WIDE).await;
        self.shot(c, &format!("{name}-wide")).await;
        c.execute(&self.axe, vec![]).await.expect("inject axe-core");
        let found = c
            .execute_async(AXE_RUN, vec![])
            .await
            .expect("run axe-core");
        for v in found.as_array().cloned().unwrap_or_default() {
            self.problems.push(format!(
                "{name} ({url}): {}",
                v.as_str().unwrap_or_default()
            ));
        }
        Self::resize(c, PHONE).await;
        self.shot(c, &format!("{name}-phone")).await;
        for width in [PHONE.0, NARROWEST] {
            Self::resize(c, (width, PHONE.1)).await;
            let fits = c.execute(FITS, vec![]).await.expect("measure");
            let over = fits[0].as_f64().unwrap_or(0.0);
            let inner = fits[1].as_f64().unwrap_or(0.0);
            assert!(
                inner <= f64::from(width),
                "the browser did not narrow to {width} px (viewport {inner})"
            );
            if over > 0.0 {
                self.problems.push(format!(
                    "{name} ({url}): scrolls sideways by {over} px at {inner} px"
                ));
            }
            if fits[2] != serde_json::Value::Bool(true) {
                self.problems.push(format!(
                    "{name} ({url}): Sign out is off-screen at {inner} px"
                ));
            }
        }
        Self::resize(c, WIDE).await;
    }

    fn assert_clean(&self) {
        assert!(
            self.problems.is_empty(),
            "{} problem(s):\n{}",
            self.problems.len(),
            self.problems.join("\n")
        );
    }
}

async fn fill(c: &Client, css: &str, text: &str) {
    let el = c.wait().for_element(Locator::Css(css)).await.expect(css);
    el.send_keys(text).await.expect("type");
}

async fn click(c: &Client, css: &str) {
    c.wait()
        .for_element(Locator::Css(css))
        .await
        .expect(css)
        .click()
        .await
        .expect("click");
}

async fn text_of(c: &Client, css: &str) -> String {
    // A click that posts a form may return before the next page replaces this one: an element
    // found on the old page goes stale, so look it up again.
    for _ in 0..50 {
        let el = c.wait().for_element(Locator::Css(css)).await.expect(css);
        if let Ok(t) = el.text().await {
            return t;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{css} kept going stale")
}

async fn sign_in(c: &Client, base: &str, email: &str) {
    c.goto(&format!("{base}/signin")).await.unwrap();
    sign_in_here(c, email).await;
}

async fn sign_in_here(c: &Client, email: &str) {
    fill(c, "#email", email).await;
    fill(c, "#password", PASSWORD).await;
    click(c, "#signin").await;
    // The click returns before the sign-in POST answers; a `goto` issued now would cancel it
    // and land on the sign-in page. Wait for the signed-in header instead.
    c.wait()
        .for_element(Locator::Css("#signout"))
        .await
        .expect("signed in (#signout)");
}

async fn sign_out(c: &Client) {
    click(c, "header form button").await;
    c.wait()
        .for_element(Locator::Css("#signin-form"))
        .await
        .unwrap();
}

async fn start() -> (World, SmtpSink, String) {
    let sink = SmtpSink::start().await;
    let url = sink.url();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let public = base.clone();
    let w = world(move |s| {
        s.bind = format!("127.0.0.1:{port}");
        s.public_url = public;
        s.mail.transport = "smtp".into();
        s.mail.smtp_url = SecretString::from(url);
    })
    .await;
    (w, sink, base)
}

/// Accepts (or dismisses) the confirmation a form asks for; answers its text.
async fn confirm(c: &Client, accept: bool) -> String {
    for _ in 0..50 {
        if let Ok(text) = c.get_alert_text().await {
            if accept {
                c.accept_alert().await.expect("accept");
            } else {
                c.dismiss_alert().await.expect("dismiss");
            }
            return text;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no confirmation was asked")
}

async fn value_of(c: &Client, css: &str) -> String {
    c.wait()
        .for_element(Locator::Css(css))
        .await
        .expect(css)
        .prop("value")
        .await
        .expect("value")
        .unwrap_or_default()
}

#[tokio::test]
async fn onboarding_in_chromium_wide_and_phone_sized_and_accessible() {
    ensure_chromium();
    let (w, sink, base) = start().await;
    let driver = start_driver().await;
    let c = browser(&driver).await;
    let mut shots = Shots::new();

    c.goto(&format!("{base}/signin")).await.unwrap();
    shots.take(&c, "signin").await;
    // Partner submits the tenant: a typo is refused at its field and kept as typed.
    sign_in_here(&c, ADMIN_A).await;
    c.wait()
        .for_element(Locator::Css("#tenant-form"))
        .await
        .unwrap();
    shots.take(&c, "partner-step1-tenant").await;
    fill(&c, "#tenant_id", "12x").await;
    submit(&c, "#submit-tenant").await;
    let err = text_of(&c, "#tenant_id-error").await;
    assert!(err.contains("only digits"), "{err}");
    assert_eq!(value_of(&c, "#tenant_id").await, "12x");
    shots.take(&c, "partner-tenant-invalid").await;
    let input = c.find(Locator::Css("#tenant_id")).await.unwrap();
    input.clear().await.unwrap();
    input.send_keys("7654321").await.unwrap();
    submit(&c, "#submit-tenant").await;
    let next = text_of(&c, "#next-steps").await;
    assert!(next.contains("sent to our team for review"), "{next}");
    shots.take(&c, "partner-pending-approval").await;
    // Wrong Tenant ID: withdraw (asked first) and resubmit the right one.
    click(&c, "#withdraw summary").await;
    click(&c, "#withdraw-tenant").await;
    let asked = confirm(&c, true).await;
    assert!(asked.contains("Withdraw Tenant ID 7654321"), "{asked}");
    c.wait()
        .for_element(Locator::Css("#tenant-form"))
        .await
        .unwrap();
    assert_eq!(value_of(&c, "#tenant_id").await, "7654321");
    let input = c.find(Locator::Css("#tenant_id")).await.unwrap();
    input.clear().await.unwrap();
    input.send_keys("1234567").await.unwrap();
    submit(&c, "#submit-tenant").await;
    assert!(text_of(&c, "#next-steps").await.contains("1234567"));
    sign_out(&c).await;

    // Ops approve from the queue.
    sign_in(&c, &base, OPS).await;
    c.wait().for_element(Locator::Css("#queue")).await.unwrap();
    shots.take(&c, "ops-queue").await;
    click(&c, "#queue a.button").await;
    c.wait()
        .for_element(Locator::Css("#approve"))
        .await
        .unwrap();
    shots.take(&c, "ops-review").await;
    // The review page has a #state too: wait for the answer to replace it.
    submit(&c, "#approve").await;
    let state = text_of(&c, "#state").await;
    assert_eq!(state, "approved");
    shots.take(&c, "ops-approved").await;
    sign_out(&c).await;

    // The emailed link shows a Continue button (opening it uses nothing), then sign-in, then
    // the credentials step.
    let got = sink.wait_for(1).await;
    assert_eq!(got[0].to, vec![ADMIN_A.to_owned()]);
    let link = got[0].continue_link().expect("link in email");
    assert!(link.starts_with(&base), "{link}");
    c.goto(&link).await.unwrap();
    c.wait()
        .for_element(Locator::Css("#continue"))
        .await
        .unwrap();
    shots.take(&c, "continue-setup").await;
    submit(&c, "#continue").await;
    c.wait()
        .for_element(Locator::Css("#signin-form"))
        .await
        .unwrap();
    shots.take(&c, "continue-setup-signin").await;
    sign_in_here(&c, ADMIN_A).await;
    c.wait()
        .for_element(Locator::Css("#credentials-form"))
        .await
        .unwrap();
    shots.take(&c, "partner-credentials").await;
    fill(&c, "#client_id", "sandbox-client").await;
    fill(&c, "#client_secret", "wrong-secret").await;
    submit(&c, "#connect").await;
    let err = text_of(&c, "#credentials-error").await;
    assert!(err.contains("not accepted by ServiceTitan"), "{err}");
    assert_eq!(value_of(&c, "#client_id").await, "sandbox-client");
    shots.take(&c, "partner-credentials-rejected").await;
    fill(&c, "#client_secret", "sandbox-secret").await;
    submit(&c, "#connect").await;
    c.wait()
        .for_element(Locator::Css("#to-mappings"))
        .await
        .unwrap();
    let state = text_of(&c, "#state").await;
    assert_eq!(state, "Credentials connected");
    assert!(!c.source().await.unwrap().contains("sandbox-secret"));
    assert!(c.find(Locator::Css("#submit-integration")).await.is_err());
    shots.take(&c, "partner-credentials-connected").await;

    // Mappings: every step page, then the review, then live.
    walk_mappings(&c, &mut shots).await;

    let live = text_of(&c, "#live").await;
    assert!(live.contains("active"), "{live}");
    let state = text_of(&c, "#state").await;
    assert_eq!(state, "Active");
    shots.take(&c, "partner-active").await;
    // Disconnect asks first; dismissing keeps the integration live.
    click(&c, "#disconnect").await;
    let asked = confirm(&c, false).await;
    assert!(asked.contains("Disconnect ServiceTitan?"), "{asked}");
    assert_eq!(text_of(&c, "#state").await, "Active");
    sign_out(&c).await;

    // Ops see the live integration's sync card; a dead task gets its Retry button.
    ops_sync_card(&w, &c, &base, &mut shots).await;

    let _ = c.close().await;
    shots.assert_clean();
}

async fn ops_sync_card(w: &World, c: &Client, base: &str, shots: &mut Shots) {
    use titanbridge::store::tasks::{self, ClaimRequest, NewTask};
    let db = w.app.state.store.db();
    let iid = titanbridge::store::integrations::list(w.app.state.store.db(), None)
        .await
        .unwrap()
        .into_iter()
        .find(|i| i.partner_id == w.partner_a)
        .expect("partner A's integration")
        .id;
    let id = tasks::enqueue(
        db,
        NewTask::now(
            iid,
            "credit_balance",
            serde_json::json!({"location_id": 1}),
            Some("browser-dead".into()),
        ),
    )
    .await
    .unwrap()
    .id();
    let req = ClaimRequest {
        skip: &[],
        owner: "browser",
        limit: 100,
        lease_ms: 60_000,
        per_integration: 100,
    };
    tasks::claim(db, &req).await.unwrap();
    let msg = "ServiceTitan returned 400: Location 812 is inactive";
    tasks::fail(db, id, "browser", msg, None).await.unwrap();

    sign_in(c, base, OPS).await;
    c.wait().for_element(Locator::Css("#queue")).await.unwrap();
    c.goto(&format!("{base}/ops/integrations/{iid}"))
        .await
        .unwrap();
    let dead = text_of(c, "#dead-tasks").await;
    assert!(dead.contains(msg), "{dead}");
    shots.take(c, "ops-sync").await;
    submit(c, &format!("#retry-{id}")).await;
    saved(c, &format!("Task {id} is queued again.")).await;
    assert_eq!(
        tasks::get(db, id).await.unwrap().unwrap().state,
        tasks::state::PENDING
    );
}

async fn select(c: &Client, css: &str, value: &str) {
    c.wait()
        .for_element(Locator::Css(css))
        .await
        .expect(css)
        .select_by_value(value)
        .await
        .expect("select");
}

async fn step(c: &Client, slug: &str) {
    click(c, &format!("nav.map-steps a[href$='/mappings/{slug}']")).await;
}

/// Clicks a submit button and waits until the page it was on has been replaced.
async fn submit(c: &Client, css: &str) {
    let old = c.find(Locator::Css("body")).await.expect("body");
    click(c, css).await;
    for _ in 0..100 {
        if old.tag_name().await.is_err() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("clicking {css} did not load a new page");
}

async fn saved(c: &Client, want: &str) {
    let flash = text_of(c, "#flash").await;
    assert!(flash.contains(want), "expected '{want}', got '{flash}'");
}

/// The mapping steps in the browser, each verified against the sandbox tenant, ending with
/// the review and going live.
async fn walk_mappings(c: &Client, shots: &mut Shots) {
    click(c, "#to-mappings").await;
    c.wait()
        .for_element(Locator::Css("#missing"))
        .await
        .unwrap();
    shots.take(c, "mappings-overview-missing").await;

    // Plans: one form, one Save for all three.
    step(c, "plans").await;
    for (plan, mt) in [("basic", "6001"), ("plus", "6002"), ("premium", "6003")] {
        select(c, &format!("#mt-{plan}"), mt).await;
    }
    shots.take(c, "mappings-plans").await;
    submit(c, "#save-plans").await;
    saved(c, "Plans saved.").await;
    for (plan, mt) in [("basic", "6001"), ("plus", "6002"), ("premium", "6003")] {
        assert_eq!(value_of(c, &format!("#mt-{plan}")).await, mt, "{plan}");
    }

    // Trades: the first row still to map is open; choosing the unit lists its job types.
    step(c, "job-types").await;
    c.wait().for_element(Locator::Css("#editor")).await.unwrap();
    shots.take(c, "mappings-trades").await;
    for trade in ["cooling", "heating"] {
        let old = c.find(Locator::Css("body")).await.expect("body");
        select(c, "#business_unit_id", "1001").await;
        // Choosing the unit reloads the editor with its job types (no button needed).
        for _ in 0..100 {
            if old.tag_name().await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        click(c, "#jt-2001").await;
        if trade == "cooling" {
            shots.take(c, "mappings-trades-editor").await;
        }
        submit(c, "#save-all-conditions").await;
        saved(c, "Saved for every condition of this trade.").await;
    }
    // Air quality is not offered: no job type needed, bookings refused.
    submit(c, "#not-offered-air_quality").await;
    saved(c, "Marked not offered").await;
    shots.take(c, "mappings-trades-done").await;

    step(c, "credit-field").await;
    let name = c.wait().for_element(Locator::Css("#name")).await.unwrap();
    name.clear().await.unwrap();
    name.send_keys("Comfort Credit").await.unwrap();
    submit(c, "#verify-name").await;
    let err = text_of(c, "#name-error").await;
    assert!(err.contains("did you mean 'Comfort Credits'?"), "{err}");
    assert_eq!(
        value_of(c, "#name").await,
        "Comfort Credit",
        "what was typed stays"
    );
    shots.take(c, "mappings-credit-field-suggestion").await;
    let name = c.wait().for_element(Locator::Css("#name")).await.unwrap();
    name.clear().await.unwrap();
    name.send_keys("  comfort credits ").await.unwrap();
    submit(c, "#verify-name").await;
    saved(c, "Comfort Credit field found and saved.").await;

    step(c, "services").await;
    fill(c, "#service-q", "tune-up").await;
    submit(c, "#search-services").await;
    click(c, "#svc-7001").await;
    click(c, "#svc-7002").await;
    shots.take(c, "mappings-services-search").await;
    submit(c, "#add-services").await;
    saved(c, "Eligible services saved.").await;

    step(c, "tag-type").await;
    shots.take(c, "mappings-tag").await;
    submit(c, "#verify-name").await;
    saved(c, "Tag type found and saved.").await;

    step(c, "campaign").await;
    let why = text_of(c, "#campaign-why").await;
    assert!(why.contains("requires a campaign"), "{why}");
    shots.take(c, "mappings-campaign").await;
    select(c, "#campaign_id", "8001").await;
    submit(c, "#save-campaign").await;
    saved(c, "Campaign saved.").await;

    step(c, "capacity").await;
    click(c, "#capacity-enabled").await;
    click(c, "#mode-business-unit").await;
    submit(c, "#save-capacity").await;
    saved(c, "real-time capacity scheduling is on").await;
    shots.take(c, "mappings-capacity").await;

    step(c, "reminders").await;
    let notes = text_of(c, "#reminder-previews").await;
    assert!(
        notes.contains("Smart hub offline") && notes.contains("air filter"),
        "{notes}"
    );
    shots.take(c, "mappings-reminders").await;

    submit(c, "#to-review").await;
    let review = text_of(c, "#review").await;
    for want in [
        "Comfort Club Gold",
        "Not offered",
        "Comfort Credits",
        "On (by business unit)",
        "Smart hub offline",
    ] {
        assert!(review.contains(want), "review lacks '{want}': {review}");
    }
    shots.take(c, "review").await;
    submit(c, "#submit-integration").await;
}

/// Issue 16: the sync activity log and the per-homeowner page, as ops and as the partner
/// admin, with screenshots. The rows are what the handlers record (seeded through the store:
/// the engine's own rows are asserted over HTTP in `sync_activity`).
#[tokio::test]
async fn sync_log_and_homeowner_pages_in_chromium() {
    use titanbridge::store::activity::{self, NewActivity};
    use titanbridge::store::members::{self, LocationInput, MemberInput};
    ensure_chromium();
    let (w, _sink, base) = start().await;
    let db = w.app.state.store.db();
    let row = titanbridge::services::onboarding::partner_integration(&w.app.state, w.partner_a)
        .await
        .unwrap();
    let up = members::upsert(
        db,
        w.partner_a,
        &MemberInput {
            external_id: "hm-42".into(),
            first_name: "Dana".into(),
            last_name: "Reyes".into(),
            email: Some("dana@example.com".into()),
            phone: None,
            plan_code: None,
            locations: vec![LocationInput {
                external_id: "hl-42".into(),
                name: "Home".into(),
                street: "42 Elm Street".into(),
                unit: None,
                city: "Austin".into(),
                state: "TX".into(),
                zip: "78701".into(),
                country: "USA".into(),
            }],
        },
    )
    .await
    .unwrap();
    let (mid, lid) = (up.member.id, up.locations[0].id);
    let rows = vec![
        NewActivity::wrote("customer", Some(9101)).member(mid),
        NewActivity::wrote("location", Some(9201))
            .member(mid)
            .location(Some(lid)),
        NewActivity::wrote("credit_balance", Some(9201))
            .member(mid)
            .location(Some(lid))
            .field("credit balance", Some("50"), Some("30")),
        NewActivity::wrote("credit_balance", Some(9201))
            .member(mid)
            .location(Some(lid))
            .field("credit balance", Some("30"), Some("35")),
        NewActivity::wrote("reminder_note", Some(9301))
            .member(mid)
            .location(Some(lid)),
    ];
    activity::record(db, row.id, None, 1, rows).await.unwrap();

    let driver = start_driver().await;
    let c = browser(&driver).await;
    let mut shots = Shots::new();
    sign_in(&c, &base, OPS).await;
    c.wait().for_element(Locator::Css("#queue")).await.unwrap();
    c.goto(&format!("{base}/ops/integrations/{}/sync", row.id))
        .await
        .unwrap();
    let log = text_of(&c, "#activity").await;
    assert!(log.contains("credit balance: 30 → 35"), "{log}");
    assert!(log.contains("(5 rows)"), "{log}");
    shots.take(&c, "sync-log").await;
    select(&c, "#filter-kind", "credit_balance").await;
    click(&c, "#apply-filters").await;
    c.wait()
        .for_element(Locator::Css("#activity"))
        .await
        .unwrap();
    let filtered = text_of(&c, "#activity h2").await;
    assert!(filtered.contains("(2 rows)"), "{filtered}");
    shots.take(&c, "sync-log-filtered").await;
    click(&c, "a.member-link").await;
    let page = text_of(&c, "#homeowner").await;
    assert!(page.contains("Dana Reyes"), "{page}");
    assert!(page.contains("35"), "{page}");
    shots.take(&c, "homeowner").await;
    sign_out(&c).await;

    // The partner admin finds the homeowner by email from its own sync page.
    sign_in(&c, &base, ADMIN_A).await;
    c.goto(&format!("{base}/settings/integrations/servicetitan/sync"))
        .await
        .unwrap();
    click(&c, "#homeowners").await;
    fill(&c, "#member-q", "dana@example").await;
    click(&c, "#search-members").await;
    let hits = text_of(&c, "#member-hits").await;
    assert!(hits.contains("Dana Reyes"), "{hits}");
    shots.take(&c, "homeowner-search").await;
    c.close().await.unwrap();
}
