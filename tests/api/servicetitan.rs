//! ServiceTitan client against the built-in sandbox over real HTTP (random ports).
use crate::helpers::st as common_st;

use std::collections::{BTreeMap, HashSet};
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::{Duration as Days, Utc};
use common_st::*;
use futures::TryStreamExt;
use titanbridge::sandbox::{Faults, SandboxConfig};
use titanbridge::servicetitan::*;

fn ok<T, E: std::fmt::Display>(r: Result<T, E>) -> T {
    r.unwrap_or_else(|e| panic!("unexpected error: {e}"))
}

#[tokio::test]
async fn token_is_reused_then_refreshed_after_expiry() {
    let h = sandbox(SandboxConfig {
        token_ttl: Duration::from_secs(2),
        ..SandboxConfig::default()
    })
    .await;
    let (st, tc) = client(&h, 60);
    ok(tc.verify().await);
    ok(tc.verify().await);
    assert_eq!(
        h.state.token_requests(CLIENT_ID),
        1,
        "second call reuses the token"
    );
    tokio::time::sleep(Duration::from_millis(2100)).await;
    ok(tc.verify().await);
    assert_eq!(
        h.state.token_requests(CLIENT_ID),
        2,
        "expired token is refreshed"
    );
    assert_eq!(
        st.stats().refreshes_after_401,
        0,
        "refreshed before expiry, not after a 401"
    );
    h.stop().await;
}

#[tokio::test]
async fn a_401_triggers_one_refresh_and_one_retry() {
    let h = sandbox(SandboxConfig::default()).await;
    let (st, tc) = client(&h, 60);
    ok(tc.verify().await);
    h.state.expire_tokens();
    ok(tc.verify().await);
    assert_eq!(h.state.token_requests(CLIENT_ID), 2);
    assert_eq!(st.stats().refreshes_after_401, 1);
    h.stop().await;
}

#[tokio::test]
async fn a_persistent_401_is_not_retried_in_a_loop() {
    let h = sandbox(SandboxConfig::default()).await;
    let (st, tc) = client(&h, 60);
    h.state.set_faults(Faults {
        error_rates: BTreeMap::from([(401, 1.0)]),
        ..Faults::default()
    });
    let err = tc.verify().await.err();
    assert!(matches!(err, Some(Error::Unauthorized(_))), "{err:?}");
    assert_eq!(
        h.state.token_requests(CLIENT_ID),
        2,
        "initial token + exactly one refresh"
    );
    assert_eq!(
        h.state.call_counts(TENANT).map(|c| c.0),
        Some(2),
        "two attempts, no loop"
    );
    assert_eq!(st.stats().calls, 2);
    h.stop().await;
}

#[tokio::test]
async fn paging_streams_10000_records_without_loss_or_duplicates() {
    let h = sandbox(SandboxConfig::default()).await;
    let (_st, tc) = client(&h, 60);
    assert_eq!(h.state.seed_bulk_jobs(TENANT, 10_000), Some(10_000));
    // Latency makes concurrently prefetched pages complete out of order.
    h.state.set_faults(Faults {
        latency: Duration::from_millis(15),
        ..Faults::default()
    });
    let jobs: Vec<Job> = ok(tc.jobs(ListQuery::new().page_size(500)).try_collect().await);
    let ids: HashSet<i64> = jobs.iter().map(|j| j.id).collect();
    assert_eq!(jobs.len(), 10_000);
    assert_eq!(ids.len(), 10_000, "no duplicates");
    assert!(
        jobs.windows(2).all(|w| w[0].id < w[1].id),
        "prefetched pages keep their order"
    );
    let expected: HashSet<i64> = h
        .state
        .snapshot(TENANT)
        .map(|s| s.jobs.iter().map(|j| j.id).collect())
        .unwrap_or_default();
    assert_eq!(ids, expected, "every stored job was returned");
    let calls = h.state.snapshot(TENANT).map(|s| s.calls_by_endpoint);
    assert_eq!(
        calls.and_then(|c| c.get("GET /jpm/jobs").copied()),
        Some(20),
        "20 pages of 500"
    );

    let page = ok(tc
        .jobs_page(&ListQuery::new().page_size(3000).include_total(), 4)
        .await);
    assert_eq!(page.total_count, Some(10_000));
    assert_eq!(page.data.len(), 1_000);
    assert!(!page.has_more);
    h.stop().await;
}

#[tokio::test]
async fn rate_limit_429s_with_retry_after_are_honoured() {
    // The sandbox allows 5 calls/s; a careless client at 1000/s must still finish every call.
    let h = sandbox(SandboxConfig {
        rate_limit_per_sec: 5,
        ..SandboxConfig::default()
    })
    .await;
    let (st, tc) = client(&h, 1000);
    let calls = (0..15).map(|_| {
        let tc = tc.clone();
        tokio::spawn(async move { tc.verify().await })
    });
    for c in futures::future::join_all(calls).await {
        ok(ok(c));
    }
    let stats = st.stats();
    assert!(stats.rate_limited > 0, "{stats:?}");
    assert_eq!(
        h.state.call_counts(TENANT).map(|c| c.1),
        Some(stats.rate_limited)
    );
    h.stop().await;

    // An injected 429 with Retry-After: 1 delays the retry by at least a second.
    let h = sandbox(SandboxConfig::default()).await;
    let (st, tc) = client(&h, 60);
    ok(tc.verify().await);
    h.state.fail_next(429, 1);
    let started = Instant::now();
    ok(tc.verify().await);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After was honoured"
    );
    assert_eq!(st.stats().rate_limited, 1);
    assert_eq!(st.stats().retries, 1);
    h.stop().await;
}

#[tokio::test]
async fn server_errors_are_retried_then_succeed() {
    let h = sandbox(SandboxConfig::default()).await;
    let (st, tc) = client(&h, 60);
    ok(tc.verify().await);
    h.state.fail_next(503, 1);
    h.state.fail_next(500, 1);
    let units: Vec<BusinessUnit> = ok(tc.business_units(ListQuery::new()).try_collect().await);
    assert_eq!(units.len(), 6, "active business units");
    assert_eq!(st.stats().retries, 2);
    assert_eq!(h.state.call_counts(TENANT).map(|c| c.0), Some(4));
    h.stop().await;
}

#[tokio::test]
async fn bad_request_surfaces_the_server_message_without_retry() {
    let h = sandbox(SandboxConfig::default()).await;
    let (st, tc) = client(&h, 60);
    let err = tc.create_customer(&NewCustomer::default()).await.err();
    let Some(Error::Api {
        status,
        title,
        errors,
    }) = &err
    else {
        panic!("expected an API error, got {err:?}");
    };
    assert_eq!(*status, 400);
    assert_eq!(title, "One or more validation errors occurred.");
    assert_eq!(
        errors.get("Name"),
        Some(&vec!["The Name field is required.".to_owned()])
    );
    let text = err.map(|e| e.to_string()).unwrap_or_default();
    assert!(text.contains("Name: The Name field is required."), "{text}");
    assert_eq!(st.stats().retries, 0);
    h.stop().await;
}

#[tokio::test]
async fn tenant_not_granted_is_forbidden_and_unknown_tenant_is_not_found() {
    let h = sandbox(SandboxConfig::default()).await;
    h.state.add_tenant(777, "other-client", "other-secret");
    let st = ServiceTitan::new(client_config(60));
    let creds = || Credentials::new(CLIENT_ID, CLIENT_SECRET);
    let err = st
        .tenant(h.environment(), 777, creds())
        .verify()
        .await
        .err();
    assert!(matches!(err, Some(Error::Forbidden(_))), "{err:?}");
    let err = st
        .tenant(h.environment(), 999_999, creds())
        .verify()
        .await
        .err();
    assert!(matches!(err, Some(Error::NotFound(_))), "{err:?}");
    h.stop().await;
}

#[tokio::test]
async fn wrong_secret_or_app_key_is_reported_clearly() {
    let h = sandbox(SandboxConfig::default()).await;
    let st = ServiceTitan::new(client_config(60));
    let tc = st.tenant(
        h.environment(),
        TENANT,
        Credentials::new(CLIENT_ID, "wrong"),
    );
    let err = tc.verify().await.err();
    assert!(matches!(err, Some(Error::InvalidCredentials)), "{err:?}");
    assert!(
        err.map(|e| e.to_string())
            .unwrap_or_default()
            .contains("Client Secret")
    );

    let mut cfg = client_config(60);
    cfg.app_key = "not-our-key".into();
    let tc = ServiceTitan::new(cfg).tenant(
        h.environment(),
        TENANT,
        Credentials::new(CLIENT_ID, CLIENT_SECRET),
    );
    // A missing or unknown App Key is a 401 (API.md §1.4), after one token refresh.
    let err = tc.verify().await.err();
    assert!(
        matches!(&err, Some(Error::Unauthorized(m)) if m.contains("ST-App-Key")),
        "{err:?}"
    );
    h.stop().await;
}

#[tokio::test]
async fn concurrent_callers_share_one_token_refresh() {
    let h = sandbox(SandboxConfig::default()).await;
    let (st, tc) = client(&h, 1000);
    let run = |n: usize| {
        let calls: Vec<_> = (0..n)
            .map(|_| {
                let tc = tc.clone();
                tokio::spawn(async move { tc.verify().await })
            })
            .collect();
        futures::future::join_all(calls)
    };
    for r in run(40).await {
        ok(ok(r));
    }
    assert_eq!(
        h.state.token_requests(CLIENT_ID),
        1,
        "one token for 40 concurrent first calls"
    );
    h.state.expire_tokens();
    for r in run(30).await {
        ok(ok(r));
    }
    assert_eq!(
        h.state.token_requests(CLIENT_ID),
        2,
        "30 concurrent 401s cause one refresh"
    );
    assert!(st.stats().refreshes_after_401 >= 1);
    h.stop().await;
}

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().map(|mut v| v.extend_from_slice(buf)).ok();
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn logs_never_contain_the_secret_or_the_token() {
    let h = sandbox(SandboxConfig::default()).await;
    let buf = Captured::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let (_st, tc) = client(&h, 60);
    ok(tc.verify().await);
    let first_tokens = h.state.tokens_for(CLIENT_ID);
    h.state.expire_tokens();
    h.state.fail_next(503, 1);
    ok(tc.verify().await);
    let _ = tc.create_customer(&NewCustomer::default()).await;
    let mut tokens = first_tokens;
    tokens.extend(h.state.tokens_for(CLIENT_ID));
    let bad = ServiceTitan::new(client_config(60));
    let _ = bad
        .tenant(
            h.environment(),
            TENANT,
            Credentials::new(CLIENT_ID, "another-secret-zz"),
        )
        .verify()
        .await;
    let logs =
        String::from_utf8_lossy(&buf.0.lock().map(|v| v.clone()).unwrap_or_default()).into_owned();
    assert!(
        logs.contains("servicetitan call"),
        "logs were captured: {logs}"
    );
    assert!(logs.contains("will be retried"), "retry was logged");
    assert_eq!(tokens.len(), 2);
    for secret in [CLIENT_SECRET, "another-secret-zz", APP_KEY]
        .into_iter()
        .chain(tokens.iter().map(String::as_str))
    {
        assert!(
            !logs.contains(secret),
            "a secret or token leaked into the logs"
        );
    }
    drop(_guard);
    h.stop().await;
}

#[tokio::test]
async fn crm_jobs_capacity_memberships_and_activity_round_trip() {
    let h = sandbox(SandboxConfig::default()).await;
    let (_st, tc) = client(&h, 60);
    let address = Address {
        street: "9 Test Way".into(),
        city: "Austin".into(),
        state: "TX".into(),
        zip: "78701".into(),
        ..Address::default()
    };
    let new = NewCustomer {
        name: "Pat Doe".into(),
        address: address.clone(),
        locations: vec![NewCustomerLocation {
            name: "Home".into(),
            address: address.clone(),
            ..NewCustomerLocation::default()
        }],
        contacts: vec![Contact::new("Email", "pat@example.com")],
        external_data: Some(ExternalData::single(GUID, "memberId", "m-42")),
        ..NewCustomer::default()
    };
    let created = ok(tc.create_customer(&new).await);
    assert_eq!(
        created.locations.len(),
        1,
        "the create answer carries the new location"
    );
    let customer = created.customer;
    let found: Vec<Customer> = ok(tc
        .customers(ListQuery::new().external_data(GUID, "memberId", &["m-42"]))
        .try_collect()
        .await);
    assert_eq!(
        found.iter().map(|c| c.id).collect::<Vec<_>>(),
        vec![customer.id]
    );
    let locations: Vec<Location> = ok(tc
        .locations(ListQuery::new().customer_id(customer.id))
        .try_collect()
        .await);
    assert_eq!(locations.len(), 1);
    let location = &locations[0];

    let fields: Vec<CustomFieldType> = ok(tc
        .location_custom_field_types(ListQuery::new())
        .try_collect()
        .await);
    let credits = fields
        .iter()
        .find(|f| f.name == "Comfort Credits")
        .map(|f| f.id)
        .unwrap_or_default();
    let patch = LocationPatch {
        custom_fields: Some(vec![CustomFieldWrite::new(credits, "120")]),
        ..LocationPatch::default()
    };
    ok(tc.patch_location(location.id, &patch).await);
    let snap = h.state.snapshot(TENANT);
    assert_eq!(
        snap.as_ref()
            .and_then(|s| s.location_custom_field(location.id, credits)),
        Some("120")
    );

    let tags: Vec<TagType> = ok(tc.tag_types(ListQuery::new()).try_collect().await);
    let smart = tags
        .iter()
        .find(|t| t.name == "SmartAC.com")
        .map(|t| t.id)
        .unwrap_or_default();
    ok(tc.add_customer_tag(customer.id, smart).await);
    assert_eq!(ok(tc.customer(customer.id).await).tag_type_ids, vec![smart]);

    let day = (Utc::now() + Days::days(2)).date_naive();
    let from = day
        .and_hms_opt(0, 0, 0)
        .map(|t| t.and_utc())
        .unwrap_or_default();
    let req = CapacityRequest {
        starts_on_or_after: from,
        ends_on_or_before: from + Days::days(1),
        business_unit_ids: vec![1001],
        job_type_id: Some(2001),
        skill_based_availability: false,
    };
    let before = ok(tc.capacity(&req).await);
    let slot = before.availabilities.first().cloned().unwrap_or_default();
    assert!(slot.is_available && slot.open_availability > 0.0);
    let start = slot.start_utc.unwrap_or_default();
    let job = ok(tc
        .create_job(&NewJob {
            customer_id: customer.id,
            location_id: location.id,
            business_unit_id: 1001,
            job_type_id: 2001,
            priority: "Normal".into(),
            campaign_id: 8001,
            appointments: vec![JobAppointmentInput {
                start,
                end: start + Days::hours(2),
                arrival_window_start: Some(start),
                arrival_window_end: slot.end_utc,
                technician_ids: vec![],
            }],
            summary: Some("SmartAC.com tune-up".into()),
            tag_type_ids: vec![smart],
            custom_fields: vec![],
            external_data: Some(ExternalData::single(GUID, "visitId", "v-1")),
        })
        .await);
    let after = ok(tc.capacity(&req).await);
    let slot_after = after
        .availabilities
        .iter()
        .find(|a| a.start == slot.start)
        .cloned()
        .unwrap_or_default();
    // Capacity is in hours: the job takes its job type's duration (2001: 5,400 s = 1.5 h).
    assert_eq!(
        slot_after.open_availability,
        slot.open_availability - 1.5,
        "booking used capacity"
    );

    ok(tc
        .create_job_note(
            job.id,
            &NewNote {
                text: "hello [ref:1]".into(),
                pin_to_top: false,
            },
        )
        .await);
    let notes = ok(tc.job_notes(job.id).await);
    assert_eq!(
        notes.iter().map(|n| n.text.as_str()).collect::<Vec<_>>(),
        vec!["hello [ref:1]"]
    );
    let tagged = ok(tc.add_job_tag(job.id, 3002).await);
    assert_eq!(tagged.tag_type_ids, vec![smart, 3002]);

    let types: Vec<MembershipType> = ok(tc.membership_types(ListQuery::new()).try_collect().await);
    let silver = types
        .iter()
        .find(|t| t.name == "Comfort Club Silver")
        .cloned()
        .unwrap_or_default();
    let billing = ok(tc.membership_duration_billing_items(silver.id).await);
    let membership = ok(tc
        .sell_membership(&MembershipSale {
            customer_id: customer.id,
            business_unit_id: 1003,
            // The sale task is set up by the partner (ServiceTitan does not expose it); the
            // sandbox seeds Silver's as pricebook service 6101.
            sale_task_id: 6101,
            duration_billing_id: billing.first().map(|b| b.id).unwrap_or_default(),
            location_id: Some(location.id),
            recurring_service_action: "Single".into(),
            recurring_location_id: Some(location.id),
        })
        .await);
    assert_eq!(membership.status, "Active");
    assert_eq!(membership.membership_type_id, silver.id);

    let since = Utc::now() - Days::seconds(1);
    let report = h.state.generate_activity(TENANT, 10).unwrap_or_default();
    assert!(report.completed_job_ids.contains(&job.id));
    let changed: Vec<Job> = ok(tc
        .jobs(
            ListQuery::new()
                .modified_on_or_after(since)
                .job_status("Completed"),
        )
        .try_collect()
        .await);
    assert!(changed.iter().any(|j| j.id == job.id));
    let invoices: Vec<Invoice> = ok(tc
        .invoices(ListQuery::new().job_id(job.id))
        .try_collect()
        .await);
    assert_eq!(invoices.len(), 1);
    assert!(
        invoices[0]
            .items
            .iter()
            .any(|i| i.kind == "Service" && i.sku_id > 0)
    );
    h.stop().await;
}

#[tokio::test]
async fn admin_endpoints_add_tenants_inject_faults_and_show_state() {
    let h = sandbox(SandboxConfig::default()).await;
    let http = reqwest::Client::new();
    let url = |p: &str| format!("{}/_sandbox{p}", h.base_url);
    let resp = ok(http
        .post(url("/tenants"))
        .json(&serde_json::json!({"tenantId": 42, "clientId": "c42", "clientSecret": "s42", "bulkJobs": 7}))
        .send()
        .await);
    assert_eq!(resp.status().as_u16(), 201);
    let st = ServiceTitan::new(client_config(60));
    let tc = st.tenant(h.environment(), 42, Credentials::new("c42", "s42"));
    let resp = ok(http
        .post(url("/fail-next"))
        .json(&serde_json::json!({"status": 502, "count": 1}))
        .send()
        .await);
    assert!(resp.status().is_success());
    let jobs: Vec<Job> = ok(tc.jobs(ListQuery::new()).try_collect().await);
    assert_eq!(jobs.len(), 7);
    assert_eq!(st.stats().retries, 1, "the injected 502 was retried");
    let snap: serde_json::Value = ok(ok(http.get(url("/tenants/42")).send().await).json().await);
    assert_eq!(snap["jobs"].as_array().map(Vec::len), Some(7));
    assert_eq!(snap["calls"], serde_json::json!(2));
    let resp = ok(http
        .put(url("/faults"))
        .json(&serde_json::json!({"outageSeconds": 60}))
        .send()
        .await);
    assert!(resp.status().is_success());
    let mut cfg = client_config(60);
    cfg.max_retries = 1;
    let err = ServiceTitan::new(cfg)
        .tenant(h.environment(), 42, Credentials::new("c42", "s42"))
        .verify()
        .await
        .err();
    assert_eq!(err.as_ref().and_then(Error::status), Some(503), "{err:?}");
    assert_eq!(
        ok(http.get(url("/tenants/9")).send().await)
            .status()
            .as_u16(),
        404
    );
    h.stop().await;
}
