//! Hostile and sloppy input, over real HTTP: a generated corpus (at least 50 cases per
//! endpoint) against every JSON endpoint under `/api/v1` and every page form. Wrong types,
//! nulls, missing and unknown fields, 1 MB strings, unicode, negative and huge numbers, invalid
//! and far dates, broken JSON, the wrong content type and a repeated `Idempotency-Key` with
//! another body. Every answer must be below 500, come within 2 s, and (for 400, 413, 415 and
//! 422) name a field or say the body is not JSON; afterwards no text column holds anything near
//! the 1 MB strings sent. Then the bounds, the sign-in redirect rules, the security headers and
//! the database file's mode, one by one.
use std::time::{Duration, Instant};

use crate::helpers::{onb as common_onb, sync as sync_support};

use chrono::Utc;
use common_onb::{Client, PASSWORD, Resp};
use reqwest::Method;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use serde_json::{Value, json};
use sync_support::World;
use titanbridge::store::users::Role;

const ADMIN: &str = "admin@partner0.example";
const OPS: &str = "ops@titanbridge.example";
/// The slowest answer accepted.
const SLOW: Duration = Duration::from_secs(2);
/// Cases per endpoint.
const CASES: usize = 50;

/// A small deterministic generator (xorshift), so a failing case can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next() % items.len() as u64) as usize]
    }
}

fn megabyte() -> String {
    "a".repeat(1_000_000)
}

/// Values that replace a field: every one is wrong for some field.
fn hostile_values() -> Vec<Value> {
    vec![
        Value::Null,
        json!(0),
        json!(-1),
        json!(i64::MIN),
        json!(u64::MAX),
        json!(1e308),
        json!(-0.5),
        json!(true),
        json!(""),
        json!("   "),
        json!("x"),
        json!([]),
        json!([1, "a", null]),
        json!({}),
        json!({"nested": {"deeper": [1]}}),
        json!(megabyte()),
        json!("ünïcødé ✓ 🚀 \u{202e}evil \u{0} \u{fffd}"),
        json!("9999-12-31T23:59:59Z"),
        json!("0000-01-01"),
        json!("2026-02-30"),
        json!("not a date"),
        json!("-1"),
        json!("99999999999999999999999"),
        json!("<script>alert(1)</script>"),
        json!("'; DROP TABLE members; --"),
    ]
}

/// One request body.
#[derive(Clone)]
enum Payload {
    Json(Value),
    Raw {
        content_type: &'static str,
        bytes: Vec<u8>,
    },
}

/// Paths of every leaf (and object) in `v`, as JSON pointers.
fn pointers(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                let p = format!("{at}/{k}");
                out.push(p.clone());
                pointers(child, p, out);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                let p = format!("{at}/{i}");
                out.push(p.clone());
                pointers(child, p, out);
            }
        }
        _ => {}
    }
}

fn remove_at(v: &mut Value, pointer: &str) {
    let (parent, key) = pointer.rsplit_once('/').unwrap_or(("", pointer));
    match v.pointer_mut(parent) {
        Some(Value::Object(m)) => {
            m.remove(key);
        }
        Some(Value::Array(a)) => {
            if let Ok(i) = key.parse::<usize>()
                && i < a.len()
            {
                a.remove(i);
            }
        }
        _ => {}
    }
}

/// At least [`CASES`] payloads derived from `base`.
fn corpus(base: &Value, seed: u64) -> Vec<Payload> {
    let mut out = vec![
        Payload::Raw {
            content_type: "application/json",
            bytes: b"not json".to_vec(),
        },
        Payload::Raw {
            content_type: "application/json",
            bytes: b"{\"a\":".to_vec(),
        },
        Payload::Raw {
            content_type: "application/json",
            bytes: Vec::new(),
        },
        Payload::Raw {
            content_type: "application/json",
            bytes: b"{\"x\":1} trailing".to_vec(),
        },
        Payload::Raw {
            content_type: "application/json",
            bytes: vec![0xff, 0xfe, b'{', b'}'],
        },
        Payload::Raw {
            content_type: "text/plain",
            bytes: base.to_string().into_bytes(),
        },
        Payload::Raw {
            content_type: "application/x-www-form-urlencoded",
            bytes: b"a=1&b=2".to_vec(),
        },
        // A number too large for any integer type.
        Payload::Raw {
            content_type: "application/json",
            bytes: base
                .to_string()
                .replacen(':', ":123456789012345678901234567890,\"_\":", 1)
                .into_bytes(),
        },
        // Deeply nested.
        Payload::Raw {
            content_type: "application/json",
            bytes: format!("{}{}", "[".repeat(5000), "]".repeat(5000)).into_bytes(),
        },
        Payload::Json(Value::Null),
        Payload::Json(json!([])),
        Payload::Json(json!(42)),
        Payload::Json(json!("a string")),
        Payload::Json(json!({})),
        Payload::Json({
            let mut b = base.clone();
            if let Some(m) = b.as_object_mut() {
                m.insert("unknown_field".into(), json!("surprise"));
            }
            b
        }),
    ];
    let mut ptrs = Vec::new();
    pointers(base, String::new(), &mut ptrs);
    let values = hostile_values();
    let mut rng = Rng(seed | 1);
    // Each field: missing, then a few hostile values each.
    for p in &ptrs {
        let mut b = base.clone();
        remove_at(&mut b, p);
        out.push(Payload::Json(b));
    }
    let mut i = 0;
    while out.len() < CASES.max(ptrs.len() * 4 + 20) {
        let mut b = base.clone();
        // One to three fields replaced at once.
        for _ in 0..=(rng.next() % 3) {
            if ptrs.is_empty() {
                break;
            }
            let p = rng.pick(&ptrs).clone();
            if let Some(slot) = b.pointer_mut(&p) {
                *slot = values[(i + rng.next() as usize) % values.len()].clone();
            }
        }
        if ptrs.is_empty() {
            b = json!({ "field": values[i % values.len()].clone() });
        }
        out.push(Payload::Json(b));
        i += 1;
    }
    out
}

/// How an endpoint is reached.
#[derive(Clone, Copy)]
enum Caller {
    Partner,
    Ops,
    Platform,
}

struct Endpoint {
    method: Method,
    path: String,
    caller: Caller,
    base: Value,
    /// Sends a fresh `Idempotency-Key` with every case.
    keyed: bool,
}

fn ep(method: Method, path: &str, caller: Caller, base: Value) -> Endpoint {
    Endpoint {
        method,
        path: path.to_owned(),
        caller,
        base,
        keyed: false,
    }
}

/// Checks one answer; returns a description of what was wrong, if anything.
fn judge(what: &str, r: &Resp, took: Duration) -> Option<String> {
    let s = r.status.as_u16();
    if s >= 500 {
        return Some(format!("{what}: {s} {}", short(&r.text)));
    }
    if took > SLOW {
        return Some(format!("{what}: took {took:?}"));
    }
    if !(400..500).contains(&s) {
        return None;
    }
    let v: Value = serde_json::from_str(&r.text).unwrap_or(Value::Null);
    let message = v["error"]["message"].as_str().unwrap_or_default();
    let fields: Vec<&str> = v["error"]["fields"]
        .as_array()
        .map(|f| f.iter().filter_map(|e| e["field"].as_str()).collect())
        .unwrap_or_default();
    let named = !fields.is_empty() && fields.iter().all(|f| !f.is_empty());
    let ok = match s {
        422 => named,
        400 | 413 | 415 => {
            named
                || message.contains("not JSON")
                || message.contains("larger than")
                || message.contains("application/x-www-form-urlencoded")
        }
        // Not about a field: who may call, what exists, what state allows, how fast.
        _ => !message.is_empty(),
    };
    if r.text.len() > 20_000 {
        return Some(format!("{what}: {s} answer of {} bytes", r.text.len()));
    }
    (!ok).then(|| format!("{what}: {s} without a field or reason: {}", short(&r.text)))
}

fn short(t: &str) -> String {
    t.chars().take(300).collect()
}

/// Sends one payload as `caller`.
async fn send(
    w: &World,
    clients: &mut (Client, Client),
    e: &Endpoint,
    payload: &Payload,
    key: Option<String>,
) -> (Resp, Duration) {
    let (ct, bytes) = match payload {
        Payload::Json(v) => ("application/json", v.to_string().into_bytes()),
        Payload::Raw {
            content_type,
            bytes,
        } => (*content_type, bytes.clone()),
    };
    let mut headers = Vec::new();
    if let Some(k) = key {
        headers.push(("Idempotency-Key", k));
    }
    let started = Instant::now();
    let r = match e.caller {
        Caller::Partner => {
            clients
                .0
                .send_raw(e.method.clone(), &e.path, ct, bytes, &headers)
                .await
        }
        Caller::Ops => {
            clients
                .1
                .send_raw(e.method.clone(), &e.path, ct, bytes, &headers)
                .await
        }
        Caller::Platform => {
            headers.push(("Authorization", format!("Bearer {}", w.partners[0].token)));
            let mut anon = Client::new(&w.app.address);
            anon.send_raw(e.method.clone(), &e.path, ct, bytes, &headers)
                .await
        }
    };
    (r, started.elapsed())
}

fn slot(hours_ahead: i64, len_hours: i64) -> Value {
    let start = Utc::now() + chrono::Duration::hours(hours_ahead);
    json!({"start": start.to_rfc3339(), "end": (start + chrono::Duration::hours(len_hours)).to_rfc3339()})
}

/// Every text column's longest value, by `table.column`.
async fn longest_texts(w: &World) -> Vec<(String, i64)> {
    let db = w.app.state.store.db();
    let backend = db.get_database_backend();
    let columns_sql = match backend {
        DbBackend::Sqlite => {
            "SELECT m.name AS t, p.name AS c FROM sqlite_master m JOIN pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND (upper(p.type) LIKE '%TEXT%' OR upper(p.type) LIKE '%CHAR%')"
        }
        _ => {
            "SELECT table_name::text AS t, column_name::text AS c FROM information_schema.columns \
             WHERE table_schema = current_schema() AND data_type IN ('text', 'character varying')"
        }
    };
    let cols = db
        .query_all_raw(Statement::from_string(backend, columns_sql))
        .await
        .unwrap();
    let mut out = Vec::new();
    for row in cols {
        let t: String = row.try_get("", "t").unwrap();
        let c: String = row.try_get("", "c").unwrap();
        let sql = format!("SELECT MAX(LENGTH(\"{c}\")) AS n FROM \"{t}\"");
        let r = db
            .query_one_raw(Statement::from_string(backend, sql))
            .await
            .unwrap();
        let n: Option<i64> = r.and_then(|r| r.try_get("", "n").ok()).flatten();
        out.push((format!("{t}.{c}"), n.unwrap_or(0)));
    }
    out
}

#[tokio::test]
async fn a_generated_corpus_of_hostile_json_never_breaks_an_endpoint() {
    let w = sync_support::world(1).await;
    let p = &w.partners[0];
    let iid = p.integration_id;
    let partner = w.user(ADMIN, Role::PartnerAdmin, Some(p.partner_id)).await;
    let ops = w.user(OPS, Role::Ops, None).await;
    let mut clients = (partner, ops);
    // A member and a location for the platform endpoints.
    let r = w
        .put_member(0, "m-1", &sync_support::member_body(1, None))
        .await;
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());

    use Caller::*;
    let mut endpoints = vec![
        ep(
            Method::PUT,
            "/api/v1/platform/members/m-1",
            Platform,
            sync_support::member_body(1, Some("basic")),
        ),
        ep(
            Method::POST,
            "/api/v1/platform/locations/loc-1/credits",
            Platform,
            json!({"amount": 5, "reason": "fuzz", "idempotency_key": "fuzz-credit"}),
        ),
        ep(
            Method::POST,
            "/api/v1/platform/locations/loc-1/device-events",
            Platform,
            json!({"device_id": "hub-1", "event": "offline"}),
        ),
        ep(
            Method::POST,
            "/api/v1/platform/locations/loc-1/bookings",
            Platform,
            json!({"trade": "cooling", "condition": "not_cooling", "summary": "AC blows warm", "slot": slot(48, 2)}),
        ),
        ep(
            Method::POST,
            &format!("/api/v1/integrations/{iid}/tenant"),
            Partner,
            json!({"tenant_id": "1234567"}),
        ),
        ep(
            Method::POST,
            &format!("/api/v1/integrations/{iid}/credentials"),
            Partner,
            json!({"client_id": "client-0", "client_secret": "secret-0"}),
        ),
        ep(
            Method::POST,
            &format!("/api/v1/integrations/{iid}/check"),
            Partner,
            json!({}),
        ),
        ep(
            Method::POST,
            &format!("/api/v1/integrations/{iid}/submit"),
            Partner,
            json!({}),
        ),
        ep(
            Method::PUT,
            &format!("/api/v1/integrations/{iid}/mappings/plans/basic"),
            Partner,
            json!({"membership_type_id": 7001, "business_unit_id": 1001, "sale_task_id": 6101}),
        ),
        ep(
            Method::PUT,
            &format!("/api/v1/integrations/{iid}/mappings/job-types/cooling"),
            Partner,
            json!({"business_unit_id": 1001, "job_type_id": 2001}),
        ),
        ep(
            Method::PUT,
            &format!("/api/v1/integrations/{iid}/mappings/job-types/cooling/noisy"),
            Partner,
            json!({"business_unit_id": 1001, "job_type_id": 2001}),
        ),
        ep(
            Method::PUT,
            &format!("/api/v1/integrations/{iid}/mappings/credit-field"),
            Partner,
            json!({"name": "Comfort Credits"}),
        ),
        ep(
            Method::PUT,
            &format!("/api/v1/integrations/{iid}/mappings/eligible-services"),
            Partner,
            json!({"service_ids": [6101, 6102]}),
        ),
        ep(
            Method::PUT,
            &format!("/api/v1/integrations/{iid}/mappings/tag-type"),
            Partner,
            json!({"name": "SmartAC.com"}),
        ),
        ep(
            Method::PUT,
            &format!("/api/v1/integrations/{iid}/mappings/campaign"),
            Partner,
            json!({"campaign_id": 30}),
        ),
        ep(
            Method::PUT,
            &format!("/api/v1/integrations/{iid}/mappings/capacity"),
            Partner,
            json!({"enabled": false, "mode": "business_unit"}),
        ),
        ep(
            Method::PUT,
            &format!("/api/v1/integrations/{iid}/mappings/booking-provider"),
            Partner,
            json!({"booking_provider_id": 9601}),
        ),
        ep(
            Method::POST,
            &format!("/api/v1/ops/integrations/{iid}/reject"),
            Ops,
            json!({"reason": "wrong tenant"}),
        ),
        ep(
            Method::POST,
            &format!("/api/v1/ops/integrations/{iid}/approve"),
            Ops,
            json!({}),
        ),
        ep(
            Method::POST,
            &format!("/api/v1/ops/integrations/{iid}/resume"),
            Ops,
            json!({}),
        ),
        ep(
            Method::POST,
            &format!("/api/v1/ops/integrations/{iid}/resend-setup-link"),
            Ops,
            json!({}),
        ),
        ep(Method::POST, "/api/v1/ops/emails/1/retry", Ops, json!({})),
        ep(
            Method::POST,
            "/api/v1/ops/sync/tasks/1/retry",
            Ops,
            json!({}),
        ),
        // State-changing last: suspend, then disconnect/reconnect.
        ep(
            Method::POST,
            &format!("/api/v1/ops/integrations/{iid}/suspend"),
            Ops,
            json!({"reason": "fuzz"}),
        ),
        ep(
            Method::POST,
            &format!("/api/v1/integrations/{iid}/disconnect"),
            Partner,
            json!({}),
        ),
        ep(
            Method::POST,
            &format!("/api/v1/integrations/{iid}/reconnect"),
            Partner,
            json!({}),
        ),
    ];
    endpoints[3].keyed = true;
    // A repeated Idempotency-Key with another body: refused, naming the key.
    for (path, first, second) in [
        (
            "/api/v1/platform/locations/loc-1/credits",
            json!({"amount": 5, "reason": "first"}),
            json!({"amount": 6, "reason": "second"}),
        ),
        (
            "/api/v1/platform/locations/loc-1/bookings",
            json!({"trade": "cooling", "condition": "noisy", "summary": "first", "slot": slot(50, 2)}),
            json!({"trade": "cooling", "condition": "noisy", "summary": "second", "slot": slot(50, 2)}),
        ),
    ] {
        let key = vec![("Idempotency-Key", "same-key-twice".to_owned())];
        let mut anon = Client::new(&w.app.address);
        let mut headers = key.clone();
        headers.push(("Authorization", format!("Bearer {}", w.partners[0].token)));
        let a = anon
            .send_raw(
                Method::POST,
                path,
                "application/json",
                first.to_string().into(),
                &headers,
            )
            .await;
        assert!(a.status.as_u16() < 500, "{path}: {} {}", a.status, a.text);
        let b = anon
            .send_raw(
                Method::POST,
                path,
                "application/json",
                second.to_string().into(),
                &headers,
            )
            .await;
        assert_eq!(b.status, 422, "{path}: {}", b.text);
        let field = b.json()["error"]["fields"][0]["field"]
            .as_str()
            .unwrap_or_default()
            .to_lowercase();
        assert!(field.contains("idempotency"), "{path}: {}", b.text);
    }
    let mut failures = Vec::new();
    let mut sent = 0;
    for (n, e) in endpoints.iter().enumerate() {
        for (i, payload) in corpus(&e.base, 0x9e37_79b9 + n as u64).iter().enumerate() {
            let key = e.keyed.then(|| format!("fuzz-{n}-{i}"));
            let (r, took) = send(&w, &mut clients, e, payload, key).await;
            sent += 1;
            if let Some(f) = judge(&format!("{} {} case {i}", e.method, e.path), &r, took) {
                failures.push(f);
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {sent} requests answered badly:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(sent >= endpoints.len() * CASES, "{sent}");
    // Nothing near the megabyte strings was stored anywhere.
    for (column, n) in longest_texts(&w).await {
        assert!(n < 20_000, "{column} holds a {n}-character value");
    }
}

/// Query strings: wrong types, repeated, huge, far and invalid dates, unknown parameters.
#[tokio::test]
async fn a_generated_corpus_of_hostile_query_strings_never_breaks_an_endpoint() {
    let w = sync_support::world(1).await;
    let p = &w.partners[0];
    let iid = p.integration_id;
    let mut partner = w.user(ADMIN, Role::PartnerAdmin, Some(p.partner_id)).await;
    let mut ops = w.user(OPS, Role::Ops, None).await;
    let r = w
        .put_member(0, "m-1", &sync_support::member_body(1, None))
        .await;
    assert_eq!(r.status(), 200);
    let values = [
        "",
        "x",
        "-1",
        "0",
        "99999999999999999999999",
        "1e308",
        "true",
        "null",
        "%00",
        "%ff%fe",
        "%E2%9C%93%F0%9F%9A%80",
        "9999-12-30",
        "0000-01-01",
        "2026-13-45",
        "2026-12-01T25:00:00Z",
        "cooling",
        "not_cooling",
    ];
    let endpoints: Vec<(String, Vec<&str>, u8)> = vec![
        (
            "/api/v1/platform/locations/loc-1/availability".into(),
            vec!["trade", "condition", "from", "to"],
            0,
        ),
        (
            format!("/api/v1/integrations/{iid}/tenant-lists/job-types"),
            vec![
                "q",
                "page",
                "page_size",
                "include_inactive",
                "business_unit_id",
            ],
            1,
        ),
        ("/api/v1/ops/integrations".into(), vec!["state"], 2),
        ("/signin".into(), vec!["next"], 3),
    ];
    let big = "a".repeat(6_000);
    let mut rng = Rng(0x5eed);
    let mut failures = Vec::new();
    for (path, params, who) in &endpoints {
        for i in 0..CASES {
            let mut q = Vec::new();
            for name in params {
                match rng.next() % 6 {
                    0 => {}
                    1 => q.push(format!("{name}={big}")),
                    2 => q.push(format!("{name}=a&{name}=b")),
                    _ => q.push(format!(
                        "{name}={}",
                        values[(i + rng.next() as usize) % values.len()]
                    )),
                }
            }
            if i % 7 == 0 {
                q.push("unknown=1".into());
            }
            let url = format!("{path}?{}", q.join("&"));
            let started = Instant::now();
            let r = match who {
                0 => {
                    let mut anon = Client::new(&w.app.address);
                    anon.send_raw(
                        Method::GET,
                        &url,
                        "text/plain",
                        Vec::new(),
                        &[("Authorization", format!("Bearer {}", w.partners[0].token))],
                    )
                    .await
                }
                1 => partner.get(&url).await,
                2 => ops.get(&url).await,
                _ => Client::new(&w.app.address).get(&url).await,
            };
            if let Some(f) = judge(&format!("GET {url:.200}"), &r, started.elapsed()) {
                failures.push(f);
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Page forms: the same corpus as form fields, with a valid CSRF token.
#[tokio::test]
async fn hostile_form_posts_get_a_page_not_a_crash() {
    let w = sync_support::world(1).await;
    let p = &w.partners[0];
    let mut partner = w.user(ADMIN, Role::PartnerAdmin, Some(p.partner_id)).await;
    let mut ops = w.user(OPS, Role::Ops, None).await;
    let page = partner.get("/settings/integrations/servicetitan").await;
    let ptoken = Client::page_csrf(&page.text).expect("csrf on the partner page");
    let page = ops.get("/ops").await;
    let otoken = Client::page_csrf(&page.text).expect("csrf on the ops page");
    let iid = p.integration_id;
    let m = "/settings/integrations/servicetitan/mappings";
    let forms: Vec<(String, Vec<&str>, bool)> = vec![
        (
            "/settings/integrations/servicetitan/tenant".into(),
            vec!["tenant_id"],
            true,
        ),
        (
            "/settings/integrations/servicetitan/credentials".into(),
            vec!["client_id", "client_secret"],
            true,
        ),
        (
            format!("{m}/plans"),
            vec![
                "plan",
                "membership_type_id",
                "business_unit_id",
                "sale_task_id",
            ],
            true,
        ),
        (
            format!("{m}/job-types"),
            vec!["trade", "condition", "business_unit_id", "job_type_id"],
            true,
        ),
        (format!("{m}/credit-field"), vec!["name"], true),
        (
            format!("{m}/services/add"),
            vec!["service_id", "6101", "x"],
            true,
        ),
        (format!("{m}/services/remove"), vec!["service_id"], true),
        (format!("{m}/tag-type"), vec!["name"], true),
        (format!("{m}/campaign"), vec!["campaign_id"], true),
        (format!("{m}/capacity"), vec!["enabled", "mode"], true),
        (
            format!("/ops/integrations/{iid}/reject"),
            vec!["reason"],
            false,
        ),
        (
            format!("/ops/integrations/{iid}/suspend"),
            vec!["reason"],
            false,
        ),
    ];
    let values = [
        "",
        " ",
        "x",
        "-1",
        "0",
        "99999999999999999999999",
        "1e308",
        "on",
        "*",
        "basic",
        "cooling",
        "ünïcødé ✓ 🚀 \u{202e}",
        "\u{0}",
        "<script>alert(1)</script>",
        "9999-12-31",
    ];
    let big = "b".repeat(300_000);
    let medium = "c".repeat(5_000);
    let mut rng = Rng(0xf0f0);
    let mut failures = Vec::new();
    for (path, fields, as_partner) in &forms {
        let (client, token) = if *as_partner {
            (&mut partner, &ptoken)
        } else {
            (&mut ops, &otoken)
        };
        for i in 0..CASES {
            let mut pairs: Vec<(String, String)> = vec![("csrf_token".into(), token.clone())];
            for f in fields {
                match rng.next() % 8 {
                    0 => {}
                    1 => pairs.push((f.to_string(), medium.clone())),
                    2 if i % 10 == 0 => pairs.push((f.to_string(), big.clone())),
                    3 => {
                        pairs.push((f.to_string(), "a".into()));
                        pairs.push((f.to_string(), "b".into()));
                    }
                    _ => pairs.push((
                        f.to_string(),
                        values[(i + rng.next() as usize) % values.len()].into(),
                    )),
                }
            }
            if i % 5 == 0 {
                pairs.push(("unknown".into(), "1".into()));
            }
            let body = serde_urlencoded::to_string(&pairs).unwrap();
            let ct = if i == 1 {
                "application/json"
            } else {
                "application/x-www-form-urlencoded"
            };
            let started = Instant::now();
            let r = client
                .send_raw(Method::POST, path, ct, body.into_bytes(), &[])
                .await;
            let took = started.elapsed();
            let s = r.status.as_u16();
            if s >= 500 || took > SLOW {
                failures.push(format!(
                    "POST {path} case {i}: {s} in {took:?}: {}",
                    short(&r.text)
                ));
            }
            if (400..500).contains(&s) && s != 403 && s != 409 && !r.text.contains("Cannot do that")
            {
                failures.push(format!(
                    "POST {path} case {i}: {s} without a reason: {}",
                    short(&r.text)
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    for (column, n) in longest_texts(&w).await {
        assert!(n < 20_000, "{column} holds a {n}-character value");
    }
}

#[tokio::test]
async fn wrong_types_and_nulls_name_the_field_with_a_422() {
    let w = sync_support::world(1).await;
    let p = &w.partners[0];
    let mut partner = w.user(ADMIN, Role::PartnerAdmin, Some(p.partner_id)).await;
    let iid = p.integration_id;
    let cases = [
        (
            format!("/api/v1/integrations/{iid}/tenant"),
            json!({"tenant_id": 1234567}),
            "tenant_id",
        ),
        (
            format!("/api/v1/integrations/{iid}/credentials"),
            json!({"client_id": null, "client_secret": "s"}),
            "client_id",
        ),
        (
            format!("/api/v1/integrations/{iid}/credentials"),
            json!({"client_secret": "s"}),
            "client_id",
        ),
    ];
    for (path, body, field) in cases {
        let r = partner.post(&path, body).await;
        assert_eq!(r.status, 422, "{path}: {}", r.text);
        assert_eq!(r.json()["error"]["fields"][0]["field"], field, "{}", r.text);
        assert!(!r.text.contains("line 1 column"), "{}", r.text);
    }
    let r = partner
        .send(
            Method::PUT,
            &format!("/api/v1/integrations/{iid}/mappings/eligible-services"),
            Some(json!({"service_ids": [6101, "6102"]})),
            true,
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(r.json()["error"]["fields"][0]["field"], "service_ids[1]");
    let mut anon = Client::new(&w.app.address);
    let auth = [
        ("Authorization", format!("Bearer {}", p.token)),
        ("Idempotency-Key", "k-1".into()),
    ];
    let r = anon
        .send_raw(
            Method::POST,
            "/api/v1/platform/locations/loc-1/bookings",
            "application/json",
            json!({"trade": "cooling", "condition": "noisy", "summary": "s", "slot": {"start": 5, "end": null}}).to_string().into(),
            &auth,
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(
        r.json()["error"]["fields"][0]["field"],
        "slot.start",
        "{}",
        r.text
    );
    let r = anon
        .send_raw(
            Method::POST,
            "/api/v1/platform/locations/loc-1/bookings",
            "text/plain",
            b"{}".to_vec(),
            &auth,
        )
        .await;
    assert_eq!(r.status, 415, "{}", r.text);
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not JSON")
    );
    let r = anon
        .send_raw(
            Method::POST,
            "/api/v1/platform/locations/loc-1/bookings",
            "application/json",
            b"{oops".to_vec(),
            &auth,
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not JSON")
    );
}

#[tokio::test]
async fn dates_sizes_and_lengths_are_bounded_before_servicetitan_is_asked() {
    let w = sync_support::world(1).await;
    let p = &w.partners[0];
    let iid = p.integration_id;
    // Capacity on, so availability would ask ServiceTitan.
    {
        use sea_orm::{ActiveModelTrait, EntityTrait, Set};
        use titanbridge::store::entities::integration;
        let row = integration::Entity::find_by_id(iid)
            .one(w.app.state.store.db())
            .await
            .unwrap()
            .unwrap();
        let mut am: integration::ActiveModel = row.into();
        am.capacity_enabled = Set(true);
        am.capacity_mode = Set(Some("business_unit".into()));
        am.update(w.app.state.store.db()).await.unwrap();
    }
    let r = w
        .put_member(0, "m-1", &sync_support::member_body(1, None))
        .await;
    assert_eq!(r.status(), 200);
    let calls_before = w.sandbox.state.call_counts(p.tenant_id).unwrap();
    let mut anon = Client::new(&w.app.address);
    let bearer = ("Authorization", format!("Bearer {}", p.token));
    let avail = |q: &str| {
        format!("/api/v1/platform/locations/loc-1/availability?trade=cooling&condition=noisy&{q}")
    };
    let today = Utc::now().date_naive();
    for (q, field, needle) in [
        (
            "from=9999-12-20&to=9999-12-30".to_owned(),
            "from",
            "90 days",
        ),
        (format!("from={today}&to=9999-12-30"), "to", "14 days"),
        (
            format!("from={today}&to={}", today + chrono::Duration::days(15)),
            "to",
            "14 days",
        ),
        ("from=2020-01-01&to=2020-01-05".to_owned(), "to", "future"),
    ] {
        let r = anon
            .send_raw(
                Method::GET,
                &avail(&q),
                "text/plain",
                Vec::new(),
                std::slice::from_ref(&bearer),
            )
            .await;
        assert_eq!(r.status, 422, "{q}: {}", r.text);
        let f = &r.json()["error"]["fields"][0];
        assert_eq!(f["field"], field, "{q}: {}", r.text);
        assert!(
            f["message"].as_str().unwrap().contains(needle),
            "{q}: {}",
            r.text
        );
    }
    let book = |slot: Value, key: &str| {
        (
            json!({"trade": "cooling", "condition": "noisy", "summary": "s", "slot": slot})
                .to_string(),
            vec![bearer.clone(), ("Idempotency-Key", key.to_owned())],
        )
    };
    let far = chrono::DateTime::parse_from_rfc3339("9999-06-01T14:00:00Z").unwrap();
    for (slot, field, key) in [
        (
            json!({"start": far.to_rfc3339(), "end": (far + chrono::Duration::hours(2)).to_rfc3339()}),
            "slot.start",
            "b1",
        ),
        (slot(48, 24 * 3650), "slot.end", "b2"),
        (slot(48, 25), "slot.end", "b3"),
    ] {
        let (body, headers) = book(slot, key);
        let r = anon
            .send_raw(
                Method::POST,
                "/api/v1/platform/locations/loc-1/bookings",
                "application/json",
                body.into(),
                &headers,
            )
            .await;
        assert_eq!(r.status, 422, "{}", r.text);
        assert_eq!(r.json()["error"]["fields"][0]["field"], field, "{}", r.text);
    }
    assert_eq!(
        w.sandbox.state.call_counts(p.tenant_id).unwrap(),
        calls_before,
        "no bounded-out request reached ServiceTitan"
    );
    // 30,000 eligible services: refused at once, without a call per 50 IDs.
    let mut partner = w.user(ADMIN, Role::PartnerAdmin, Some(p.partner_id)).await;
    let ids: Vec<i64> = (1..=30_000).collect();
    let started = Instant::now();
    let r = partner
        .send(
            Method::PUT,
            &format!("/api/v1/integrations/{iid}/mappings/eligible-services"),
            Some(json!({"service_ids": ids})),
            true,
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(r.json()["error"]["fields"][0]["field"], "service_ids");
    assert!(r.text.contains("200"), "{}", r.text);
    assert!(started.elapsed() < SLOW, "{:?}", started.elapsed());
    // A 500 KB suspend reason is refused; 2,000 characters are kept.
    let mut ops = w.user(OPS, Role::Ops, None).await;
    let r = ops
        .post(
            &format!("/api/v1/ops/integrations/{iid}/suspend"),
            json!({"reason": "r".repeat(500_000)}),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    assert_eq!(r.json()["error"]["fields"][0]["field"], "reason");
    assert!(r.text.len() < 5_000, "the answer does not echo the reason");
    let r = ops
        .post(
            &format!("/api/v1/ops/integrations/{iid}/suspend"),
            json!({"reason": "é".repeat(2000)}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // Over-long names and client IDs.
    let r = partner
        .send(
            Method::PUT,
            &format!("/api/v1/integrations/{iid}/mappings/tag-type"),
            Some(json!({"name": "n".repeat(201)})),
            true,
        )
        .await;
    assert!(r.status == 422 || r.status == 409, "{}", r.text);
}

#[tokio::test]
async fn sign_in_returns_only_to_a_path_on_this_site() {
    let w = sync_support::world(1).await;
    let p = &w.partners[0];
    for (i, (next, expected)) in [
        (
            "/settings/integrations/servicetitan/mappings",
            "/settings/integrations/servicetitan/mappings",
        ),
        ("/\t/evil.example", "/settings/integrations/servicetitan"),
        ("//evil.example", "/settings/integrations/servicetitan"),
        ("/\\evil.example", "/settings/integrations/servicetitan"),
        (
            "https://evil.example/",
            "/settings/integrations/servicetitan",
        ),
        (
            "/ok\r\nSet-Cookie: stolen=1",
            "/settings/integrations/servicetitan",
        ),
    ]
    .into_iter()
    .enumerate()
    {
        // One account per case: the sign-in limiter counts attempts per address.
        let email = format!("admin{i}@partner0.example");
        drop(w.user(&email, Role::PartnerAdmin, Some(p.partner_id)).await);
        let mut c = Client::new(&w.app.address);
        let page = c.get("/signin").await;
        let token = Client::page_csrf(&page.text).unwrap();
        let r = c
            .form(
                "/signin",
                &[
                    ("csrf_token", &token),
                    ("email", &email),
                    ("password", PASSWORD),
                    ("next", next),
                ],
            )
            .await;
        assert_eq!(r.status, 303, "{next:?}: {}", r.text);
        assert_eq!(r.location(), expected, "{next:?}");
        assert!(
            r.headers
                .get("set-cookie")
                .is_none_or(|v| !v.to_str().unwrap_or_default().contains("stolen"))
        );
        // The sign-in page itself never echoes an unsafe `next`.
        let shown = c.get(&format!("/signin?next={}", urlencode(next))).await;
        assert!(shown.status.as_u16() < 500);
    }
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn pages_and_api_answers_carry_the_security_headers() {
    let w = sync_support::world(1).await;
    let p = &w.partners[0];
    let mut partner = w.user(ADMIN, Role::PartnerAdmin, Some(p.partner_id)).await;
    for path in [
        "/settings/integrations/servicetitan",
        "/api/v1/integration",
        "/signin",
    ] {
        let r = partner.get(path).await;
        let h = |n: &str| {
            r.headers
                .get(n)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_owned()
        };
        assert_eq!(h("cache-control"), "no-store", "{path}");
        assert_eq!(h("x-frame-options"), "DENY", "{path}");
        assert_eq!(h("x-content-type-options"), "nosniff", "{path}");
        assert_eq!(h("referrer-policy"), "same-origin", "{path}");
        let csp = h("content-security-policy");
        assert!(
            csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'"),
            "{path}: {csp}"
        );
        assert!(!csp.contains("unsafe-inline"), "{csp}");
    }
    // A path segment of the wrong shape is a JSON 404, not a text error.
    let r = partner.get("/api/v1/integrations/not-a-number").await;
    assert_eq!(r.status, 404, "{}", r.text);
    assert_eq!(r.json()["error"]["code"], "not_found", "{}", r.text);
    // Pages hold no inline script (the CSP would block it).
    let page = partner.get("/settings/integrations/servicetitan").await;
    assert!(
        !page.text.contains("<script>") && !page.text.contains(" onclick="),
        "inline script on the page"
    );
    let css = partner.get("/static/app.css").await;
    assert_ne!(
        css.headers
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store"),
        "static files stay cacheable"
    );
}

#[cfg(unix)]
#[tokio::test]
async fn a_new_sqlite_database_is_readable_by_its_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("private.db");
    let url = format!("sqlite://{}?mode=rwc", path.display());
    let store = titanbridge::store::Store::connect(&url, None)
        .await
        .unwrap();
    store.migrate().await.unwrap();
    for suffix in ["", "-wal", "-shm"] {
        let f = std::path::PathBuf::from(format!("{}{suffix}", path.display()));
        let mode = std::fs::metadata(&f).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{} is {mode:o}", f.display());
    }
}

/// A value near the 1 MiB limit is refused without being echoed back (the log line is checked
/// in `web::middleware`'s unit test).
#[tokio::test]
async fn a_megabyte_value_is_not_echoed_back() {
    let long = "z".repeat(900_000);
    let w = sync_support::world(1).await;
    let mut anon = Client::new(&w.app.address);
    let r = anon
        .send_raw(
            Method::PUT,
            "/api/v1/platform/members/m-9",
            "application/json",
            json!({"first_name": long}).to_string().into(),
            &[("Authorization", format!("Bearer {}", w.partners[0].token))],
        )
        .await;
    assert_eq!(r.status, 422);
    assert!(r.text.len() < 5_000, "answer of {} bytes", r.text.len());
}
