//! The service skeleton over real HTTP: health, readiness, metrics, migrations on both
//! databases, and start-up failures that name their cause.
use crate::helpers::app as common;

use common::{TestDb, spawn_app, spawn_with, test_settings};
use std::process::Command;

#[tokio::test]
async fn healthz_answers_ok_with_a_request_id() {
    let app = spawn_app().await;
    let resp = app
        .http
        .get(format!("{}/healthz", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers().contains_key("x-request-id"));
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["status"], "ok");
}

#[tokio::test]
async fn readyz_is_ready_after_migrations() {
    let app = spawn_app().await;
    let resp = app
        .http
        .get(format!("{}/readyz", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
}

#[tokio::test]
async fn readyz_is_503_when_migrations_are_missing() {
    let db = TestDb::new().await;
    let settings = test_settings(&db);
    let app = spawn_with(db, settings, false).await;
    let resp = app
        .http
        .get(format!("{}/readyz", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 503);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert!(
        body["reason"].as_str().unwrap().contains("not applied"),
        "{body}"
    );
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status() {
    let app = spawn_app().await;
    for _ in 0..3 {
        app.http
            .get(format!("{}/healthz", app.address))
            .send()
            .await
            .unwrap();
    }
    app.http
        .get(format!("{}/no-such-page", app.address))
        .send()
        .await
        .unwrap();
    let text = app.metrics().await;
    assert!(
        text.contains(r#"http_requests_total{method="GET",route="/healthz",status="200"} 3"#),
        "{text}"
    );
    assert!(text.contains(r#"route="unmatched",status="404""#), "{text}");
    assert!(text.contains("# TYPE sync_tasks_pending gauge"), "{text}");
}

#[tokio::test]
async fn every_migration_applies_rolls_back_and_reapplies() {
    use migration::MigratorTrait;
    // Every migration registered (others add theirs in parallel; m0005 is the export feeds').
    let all = migration::Migrator::migrations().len();
    assert!(all >= 5, "{all} migrations");
    let db = TestDb::new().await;
    let store = db.store().await;
    assert_eq!(store.pending_migrations().await.unwrap(), all);
    store.migrate().await.unwrap();
    assert_eq!(store.pending_migrations().await.unwrap(), 0);
    assert!(store.ready().await.is_ok());
    store.migrate_down_all().await.unwrap();
    assert_eq!(store.pending_migrations().await.unwrap(), all);
    store.migrate().await.unwrap();
    assert_eq!(store.pending_migrations().await.unwrap(), 0);
}

#[tokio::test]
async fn pending_task_dedupe_key_is_unique_only_while_pending() {
    use sea_orm::ConnectionTrait;
    let db = TestDb::new().await;
    let store = db.store().await;
    store.migrate().await.unwrap();
    let c = store.db();
    c.execute_unprepared(
        "INSERT INTO partners (name, slug, created_at) VALUES ('P', 'p', CURRENT_TIMESTAMP)",
    )
    .await
    .unwrap();
    c.execute_unprepared(
        "INSERT INTO integrations (partner_id, environment, state, capacity_enabled, backfill_total, \
         backfill_done, version, created_at, updated_at) \
         VALUES (1, 'sandbox', 'active', false, 0, 0, 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)",
    )
    .await
    .unwrap();
    let insert = |state: &str| {
        format!(
            "INSERT INTO sync_tasks (integration_id, kind, payload, dedupe_key, state, attempts, \
             run_after_ms, created_at, updated_at) \
             VALUES (1, 'credit', '{{}}', 'credit:1', '{state}', 0, 0, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"
        )
    };
    c.execute_unprepared(&insert("pending")).await.unwrap();
    assert!(
        c.execute_unprepared(&insert("pending")).await.is_err(),
        "second pending task with the same dedupe key must be refused"
    );
    c.execute_unprepared(&insert("done")).await.unwrap();
    c.execute_unprepared(&insert("running")).await.unwrap();
}

fn run_binary(envs: &[(&str, &str)], args: &[&str]) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_titanbridge"));
    cmd.args(args)
        .env_remove("DATABASE_URL")
        .env("RUST_BACKTRACE", "1");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().expect("run titanbridge")
}

fn assert_one_line_failure(out: &std::process::Output, needle: &str) {
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "expected one line, got: {stderr}");
    assert!(lines[0].contains(needle), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn bad_configuration_fails_with_one_line_naming_the_setting() {
    let out = run_binary(&[("TITANBRIDGE_BIND", "not-an-address")], &["migrate"]);
    assert_one_line_failure(&out, "setting bind");
    let out = run_binary(
        &[("TITANBRIDGE_SERVICETITAN__RATE_LIMIT_PER_SEC", "lots")],
        &["migrate"],
    );
    assert_one_line_failure(&out, "servicetitan.rate_limit_per_sec");
    let out = run_binary(&[("TITANBRIDGE_MAIL__TRANSPORT", "pigeon")], &["migrate"]);
    assert_one_line_failure(&out, "mail.transport");
}

#[test]
fn serve_without_keys_names_the_missing_setting() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("x.db").display());
    let out = run_binary(
        &[
            ("TITANBRIDGE_DATABASE_URL", &url),
            ("TITANBRIDGE_BIND", "127.0.0.1:0"),
        ],
        &["serve"],
    );
    assert_one_line_failure(&out, "encryption_key");
}

#[test]
fn unreachable_database_fails_with_one_line() {
    let out = run_binary(
        &[(
            "TITANBRIDGE_DATABASE_URL",
            "postgres://nobody:secretpw@127.0.0.1:1/none",
        )],
        &["migrate"],
    );
    assert_one_line_failure(&out, "database unreachable");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("secretpw"), "password leaked: {stderr}");
}

#[tokio::test]
async fn admin_commands_create_accounts_and_issue_a_working_api_token() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("admin.db").display()
    );
    // scripts/test's own switches are in the environment of every test run that sets them;
    // they are not settings and must not stop the binary.
    let env = [
        ("TITANBRIDGE_DATABASE_URL", url.as_str()),
        ("TITANBRIDGE_SKIP_LONG", "1"),
        ("TITANBRIDGE_SKIP_BROWSER", "0"),
    ];
    let out = run_binary(
        &env,
        &[
            "admin",
            "create-partner",
            "--name",
            "Acme Heating",
            "--slug",
            "acme",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run_binary(
        &[
            ("TITANBRIDGE_DATABASE_URL", url.as_str()),
            ("TITANBRIDGE_NEW_PASSWORD", "a-long-enough-password"),
        ],
        &[
            "admin",
            "create-user",
            "--email",
            "Ann@Acme.example",
            "--name",
            "Ann",
            "--role",
            "partner-admin",
            "--partner",
            "acme",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // A partner admin without a partner, and a short password, are refused with one line.
    let out = run_binary(
        &[
            ("TITANBRIDGE_DATABASE_URL", url.as_str()),
            ("TITANBRIDGE_NEW_PASSWORD", "a-long-enough-password"),
        ],
        &[
            "admin",
            "create-user",
            "--email",
            "b@acme.example",
            "--name",
            "B",
            "--role",
            "partner-admin",
        ],
    );
    assert_one_line_failure(&out, "--partner is required");
    let out = run_binary(
        &[
            ("TITANBRIDGE_DATABASE_URL", url.as_str()),
            ("TITANBRIDGE_NEW_PASSWORD", "short"),
        ],
        &[
            "admin",
            "create-user",
            "--email",
            "c@x.example",
            "--name",
            "C",
            "--role",
            "ops",
        ],
    );
    assert_one_line_failure(&out, "at least 12 characters");
    let out = run_binary(&env, &["admin", "issue-api-token", "--partner", "acme"]);
    assert!(out.status.success());
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(token.starts_with("tbp_") && token.len() > 40, "{token}");
    let store = titanbridge::store::Store::connect(&url, None)
        .await
        .unwrap();
    let hash = titanbridge::crypto::sha256_hex(&token);
    let partner = titanbridge::store::platform::partner_by_token_hash(store.db(), &hash)
        .await
        .unwrap()
        .expect("the token identifies the partner");
    assert_eq!(partner.slug, "acme");
    let user = titanbridge::store::users::find_by_email(store.db(), "ann@acme.example")
        .await
        .unwrap()
        .expect("email stored lowercased");
    assert_eq!(user.role, "partner_admin");
    assert_eq!(user.partner_id, Some(partner.id));
}

#[test]
fn a_broken_catalogue_stops_start_up_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    for f in ["plans.toml", "trades.toml", "reminders.toml"] {
        std::fs::copy(format!("mappings/{f}"), dir.path().join(f)).unwrap();
    }
    std::fs::write(
        dir.path().join("plans.toml"),
        "[[plan]]\ncode = \"basic\"\nname = \n",
    )
    .unwrap();
    let db = format!("sqlite://{}?mode=rwc", dir.path().join("x.db").display());
    let key = titanbridge::config::random_key(32);
    let session = titanbridge::config::random_key(64);
    let out = run_binary(
        &[
            ("TITANBRIDGE_DATABASE_URL", &db),
            ("TITANBRIDGE_BIND", "127.0.0.1:0"),
            ("TITANBRIDGE_ENCRYPTION_KEY", &key),
            ("TITANBRIDGE_SESSION_KEY", &session),
            ("TITANBRIDGE_MAPPINGS_DIR", dir.path().to_str().unwrap()),
        ],
        &["serve"],
    );
    assert_one_line_failure(&out, "setting mappings_dir");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("plans.toml:3"), "{stderr}");
}
