//! Mapping steps over real HTTP against the in-process ServiceTitan sandbox: every step from
//! credentials to go-live, each refusal (a 4xx naming the field), edits after activation, the
//! wizard pages, and a tenant with 500 job types and 2,000 pricebook services.
use crate::helpers::onb as common_onb;

use common_onb::{ADMIN_A, ADMIN_B, Client, OPS, World, my_integration, world};
use reqwest::Method;
use serde_json::{Value, json};
use titanbridge::sandbox::TenantSeed;

/// Partner A with credentials connected: (client, integration id).
async fn connected(w: &World) -> (Client, i64) {
    let base = &w.app.address;
    let mut partner = Client::signed_in(base, ADMIN_A).await;
    let mut ops = Client::signed_in(base, OPS).await;
    let id = my_integration(&mut partner).await;
    let r = partner
        .post(
            &format!("/api/v1/integrations/{id}/tenant"),
            json!({"tenant_id": TenantSeed::demo().tenant_id.to_string()}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = ops
        .post(&format!("/api/v1/ops/integrations/{id}/approve"), json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = partner
        .post(
            &format!("/api/v1/integrations/{id}/credentials"),
            json!({"client_id": "sandbox-client", "client_secret": "sandbox-secret"}),
        )
        .await;
    assert_eq!(r.json()["state"], "credentials_connected", "{}", r.text);
    (partner, id)
}

async fn put(c: &mut Client, path: &str, body: Value) -> common_onb::Resp {
    c.send(Method::PUT, path, Some(body), true).await
}

/// Asserts a 422 whose first field error is `field` and whose message contains `needle`.
fn refused(r: &common_onb::Resp, field: &str, needle: &str) {
    assert_eq!(r.status, 422, "{}", r.text);
    let f = &r.json()["error"]["fields"][0];
    assert_eq!(f["field"], field, "{}", r.text);
    assert!(
        f["message"].as_str().unwrap_or_default().contains(needle),
        "expected '{needle}' in {}",
        r.text
    );
}

fn missing_items(view: &Value) -> Vec<String> {
    view["missing"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["item"].as_str().unwrap().to_owned())
        .collect()
}

/// Maps everything through the API with the seeded tenant's records.
async fn map_everything(c: &mut Client, id: i64) -> Value {
    let m = format!("/api/v1/integrations/{id}/mappings");
    for (plan, mt) in [("basic", 6001), ("plus", 6002), ("premium", 6003)] {
        let r = put(
            c,
            &format!("{m}/plans/{plan}"),
            json!({"membership_type_id": mt}),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    // Apply to all conditions of each trade, then one condition on its own.
    for trade in ["cooling", "heating", "air_quality"] {
        let r = put(
            c,
            &format!("{m}/job-types/{trade}"),
            json!({"business_unit_id": 1001, "job_type_id": 2001}),
        )
        .await;
        assert_eq!(r.status, 200, "{}", r.text);
    }
    let r = put(
        c,
        &format!("{m}/job-types/cooling/not_cooling"),
        json!({"business_unit_id": 1001, "job_type_id": 2002}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = put(
        c,
        &format!("{m}/credit-field"),
        json!({"name": "  comfort CREDITS "}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = put(
        c,
        &format!("{m}/eligible-services"),
        json!({"service_ids": [7001, 7002, 7004]}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = put(c, &format!("{m}/tag-type"), json!({"name": "SmartAC.com"})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = put(c, &format!("{m}/campaign"), json!({"campaign_id": 8001})).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let r = put(
        c,
        &format!("{m}/capacity"),
        json!({"enabled": true, "mode": "business_unit"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    r.json()
}

#[tokio::test]
async fn every_step_then_submit_goes_live() {
    let w = world(|_| {}).await;
    let (mut c, id) = connected(&w).await;
    let m = format!("/api/v1/integrations/{id}/mappings");

    // Before anything: everything is missing, capacity mode is not (capacity is off).
    let v = c.get(&m).await.json();
    assert_eq!(v["editable"], true);
    let missing = missing_items(&v);
    assert_eq!(missing.iter().filter(|m| *m == "plan").count(), 3);
    assert_eq!(missing.iter().filter(|m| *m == "job_type").count(), 11);
    assert!(!missing.contains(&"capacity_mode".to_owned()));

    let v = map_everything(&mut c, id).await;
    assert_eq!(v["missing"], json!([]), "{v}");
    assert_eq!(
        v["plans"][1]["membership_type"],
        json!({"id": 6002, "name": "Comfort Club Gold"})
    );
    // Apply-to-all filled every condition; the single edit changed only its own.
    let cooling = &v["trades"][0]["conditions"];
    assert_eq!(cooling[0]["job_type"]["name"], "No Cool Diagnostic");
    assert_eq!(cooling[1]["job_type"]["name"], "AC Tune-Up");
    assert_eq!(
        v["trades"][2]["conditions"][2]["business_unit"]["name"],
        "HVAC Service"
    );
    assert_eq!(
        v["credit_field"],
        json!({"id": 4501, "name": "Comfort Credits"})
    );
    assert_eq!(v["tag_type"], json!({"id": 3001, "name": "SmartAC.com"}));
    assert_eq!(v["campaign"], json!({"id": 8001, "name": "SmartAC.com"}));
    assert_eq!(
        v["capacity"],
        json!({"enabled": true, "mode": "business_unit"})
    );
    let codes: Vec<&str> = v["eligible_services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes, ["HVAC-TUNE-AC", "HVAC-TUNE-FURN", "HVAC-FILTER"]);

    // Submit: mappings_complete → active, both recorded.
    let r = c
        .post(&format!("/api/v1/integrations/{id}/submit"), json!({}))
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["state"], "active");
    let events: Vec<String> = r.json()["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["event"].as_str().unwrap().to_owned())
        .collect();
    assert!(
        events.ends_with(&["complete_mappings".to_owned(), "activate".to_owned()]),
        "{events:?}"
    );
    assert!(events.iter().filter(|e| *e == "mapping_edited").count() >= 12);
}

#[tokio::test]
async fn edits_after_activation_are_audited_without_a_state_change() {
    let w = world(|_| {}).await;
    let (mut c, id) = connected(&w).await;
    map_everything(&mut c, id).await;
    let r = c
        .post(&format!("/api/v1/integrations/{id}/submit"), json!({}))
        .await;
    assert_eq!(r.json()["state"], "active", "{}", r.text);

    let r = put(
        &mut c,
        &format!("/api/v1/integrations/{id}/mappings/plans/premium"),
        json!({"membership_type_id": 6002}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["state"], "active");
    assert_eq!(r.json()["plans"][2]["membership_type"]["id"], 6002);
    let v = c.get(&format!("/api/v1/integrations/{id}")).await.json();
    assert_eq!(v["state"], "active");
    let last = v["history"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["event"], "mapping_edited");
    assert_eq!(
        (last["from"].as_str(), last["to"].as_str()),
        (Some("active"), Some("active"))
    );
    assert_eq!(last["actor"], format!("partner:{ADMIN_A}"));
    assert!(
        last["reason"]
            .as_str()
            .unwrap()
            .contains("plan premium → membership type 'Comfort Club Gold' (6002)")
    );
    // Turning capacity off needs no check and keeps the mode for next time.
    let r = put(
        &mut c,
        &format!("/api/v1/integrations/{id}/mappings/capacity"),
        json!({"enabled": false}),
    )
    .await;
    assert_eq!(
        r.json()["capacity"],
        json!({"enabled": false, "mode": "business_unit"}),
        "{}",
        r.text
    );
}

#[tokio::test]
async fn plans_carry_the_sale_business_unit_and_task_and_the_booking_provider_is_chosen() {
    let w = world(|_| {}).await;
    let (mut c, id) = connected(&w).await;
    let m = format!("/api/v1/integrations/{id}/mappings");
    let r = put(
        &mut c,
        &format!("{m}/plans/basic"),
        json!({"membership_type_id": 6001, "business_unit_id": 1003, "sale_task_id": 6101}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["plans"][0]["business_unit_id"], 1003);
    assert_eq!(r.json()["plans"][0]["sale_task_id"], 6101);
    let r = put(
        &mut c,
        &format!("{m}/plans/basic"),
        json!({"membership_type_id": 6001, "sale_task_id": 123456}),
    )
    .await;
    refused(&r, "sale_task_id", "123456");
    let r = put(
        &mut c,
        &format!("{m}/plans/basic"),
        json!({"membership_type_id": 6001, "business_unit_id": 424242}),
    )
    .await;
    refused(&r, "business_unit_id", "424242");

    let r = put(
        &mut c,
        &format!("{m}/booking-provider"),
        json!({"booking_provider_id": 9601}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = c.get(&format!("/api/v1/integrations/{id}")).await.json();
    let last = v["history"].as_array().unwrap().last().unwrap().clone();
    assert!(
        last["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("booking provider → 'titanbridge' (9601)"),
        "{last}"
    );
    let r = put(
        &mut c,
        &format!("{m}/booking-provider"),
        json!({"booking_provider_id": 3001}),
    )
    .await;
    refused(&r, "booking_provider_id", "does not exist");
    let r = put(&mut c, &format!("{m}/booking-provider"), json!({})).await;
    refused(&r, "booking_provider_id", "required");
}

#[tokio::test]
async fn refusals_are_422s_naming_the_field() {
    let w = world(|_| {}).await;
    let (mut c, id) = connected(&w).await;
    let m = format!("/api/v1/integrations/{id}/mappings");

    // Plans: unknown membership type, inactive one, unknown plan, missing field.
    let r = put(
        &mut c,
        &format!("{m}/plans/basic"),
        json!({"membership_type_id": 9999}),
    )
    .await;
    refused(
        &r,
        "membership_type_id",
        "membership type 9999 does not exist",
    );
    let r = put(
        &mut c,
        &format!("{m}/plans/basic"),
        json!({"membership_type_id": 6005}),
    )
    .await;
    refused(
        &r,
        "membership_type_id",
        "'Legacy Maintenance Plan' (6005) is inactive",
    );
    let r = put(
        &mut c,
        &format!("{m}/plans/gold"),
        json!({"membership_type_id": 6001}),
    )
    .await;
    refused(&r, "plan", "unknown plan 'gold'");
    let r = put(&mut c, &format!("{m}/plans/basic"), json!({})).await;
    refused(&r, "membership_type_id", "required");

    // Job types: not allowed for the business unit, inactive unit, unknown trade/condition.
    let r = put(
        &mut c,
        &format!("{m}/job-types/cooling/noisy"),
        json!({"business_unit_id": 1001, "job_type_id": 2004}),
    )
    .await;
    refused(
        &r,
        "job_type_id",
        "'AC Replacement Estimate' is not allowed for business unit 'HVAC Service'",
    );
    let r = put(
        &mut c,
        &format!("{m}/job-types/cooling"),
        json!({"business_unit_id": 1007, "job_type_id": 2011}),
    )
    .await;
    refused(&r, "business_unit_id", "inactive");
    let r = put(
        &mut c,
        &format!("{m}/job-types/cooling/no_heat"),
        json!({"business_unit_id": 1001, "job_type_id": 2001}),
    )
    .await;
    refused(
        &r,
        "condition",
        "unknown condition 'no_heat' for trade 'cooling'",
    );
    let r = put(
        &mut c,
        &format!("{m}/job-types/plumbing"),
        json!({"business_unit_id": 1001, "job_type_id": 2001}),
    )
    .await;
    refused(&r, "trade", "unknown trade 'plumbing'");
    let r = put(
        &mut c,
        &format!("{m}/job-types/cooling"),
        json!({"job_type_id": 2001}),
    )
    .await;
    refused(&r, "business_unit_id", "required");

    // Custom field not found: close names are suggested.
    let r = put(
        &mut c,
        &format!("{m}/credit-field"),
        json!({"name": "Comfort Credit"}),
    )
    .await;
    refused(
        &r,
        "name",
        "no custom field named 'Comfort Credit' in your ServiceTitan tenant; did you mean 'Comfort Credits'?",
    );
    let r = put(&mut c, &format!("{m}/credit-field"), json!({"name": "  "})).await;
    refused(&r, "name", "enter the custom field name");

    // Inactive and unknown services.
    let r = put(
        &mut c,
        &format!("{m}/eligible-services"),
        json!({"service_ids": [7001, 7012]}),
    )
    .await;
    refused(
        &r,
        "service_ids",
        "'Tune-Up Special (2019)' (7012) is inactive",
    );
    let r = put(
        &mut c,
        &format!("{m}/eligible-services"),
        json!({"service_ids": [123]}),
    )
    .await;
    refused(&r, "service_ids", "pricebook service 123 does not exist");

    // Tag type not found (suggesting SmartAC.com), and an inactive one.
    let r = put(&mut c, &format!("{m}/tag-type"), json!({"name": "SmartAC"})).await;
    refused(&r, "name", "did you mean 'SmartAC.com'?");
    let r = put(
        &mut c,
        &format!("{m}/tag-type"),
        json!({"name": "2019 promo"}),
    )
    .await;
    refused(&r, "name", "inactive");

    // Inactive and unknown campaigns.
    let r = put(
        &mut c,
        &format!("{m}/campaign"),
        json!({"campaign_id": 8005}),
    )
    .await;
    refused(&r, "campaign_id", "'Direct Mail 2021' (8005) is inactive");
    let r = put(&mut c, &format!("{m}/campaign"), json!({"campaign_id": 1})).await;
    refused(&r, "campaign_id", "campaign 1 does not exist");

    // Capacity: mode required and known.
    let r = put(&mut c, &format!("{m}/capacity"), json!({"enabled": true})).await;
    refused(&r, "mode", "choose how capacity is read");
    let r = put(
        &mut c,
        &format!("{m}/capacity"),
        json!({"enabled": true, "mode": "skills"}),
    )
    .await;
    refused(&r, "mode", "unknown capacity mode 'skills'");

    // Nothing refused was saved.
    let v = c.get(&m).await.json();
    assert_eq!(v["credit_field"], Value::Null);
    assert_eq!(v["eligible_services"], json!([]));
    assert_eq!(v["campaign"], Value::Null);
    assert_eq!(v["capacity"]["enabled"], false);
    assert!(
        v["plans"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["membership_type"].is_null())
    );
}

#[tokio::test]
async fn capacity_endpoint_failing_keeps_capacity_off() {
    let w = world(|_| {}).await;
    let (mut c, id) = connected(&w).await;
    let path = format!("/api/v1/integrations/{id}/mappings/capacity");
    // Not enabled for this app (403), then an outage (503s until retries run out).
    w.sandbox.state.fail_next(403, 1);
    let r = put(
        &mut c,
        &path,
        json!({"enabled": true, "mode": "technician"}),
    )
    .await;
    refused(
        &r,
        "mode",
        "capacity endpoint did not answer for your tenant",
    );
    let mut faults = w.sandbox.state.faults();
    faults.outage_until = Some(chrono::Utc::now() + chrono::Duration::seconds(60));
    w.sandbox.state.set_faults(faults);
    let r = put(
        &mut c,
        &path,
        json!({"enabled": true, "mode": "technician"}),
    )
    .await;
    refused(&r, "mode", "real-time capacity scheduling stays off");
    w.sandbox
        .state
        .set_faults(titanbridge::sandbox::Faults::default());
    let v = c
        .get(&format!("/api/v1/integrations/{id}/mappings"))
        .await
        .json();
    assert_eq!(v["capacity"], json!({"enabled": false, "mode": null}));
    // Once the endpoint answers, technician mode is saved.
    let r = put(
        &mut c,
        &path,
        json!({"enabled": true, "mode": "technician"}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(
        r.json()["capacity"],
        json!({"enabled": true, "mode": "technician"})
    );
}

#[tokio::test]
async fn submitting_with_gaps_names_each_missing_item() {
    let w = world(|_| {}).await;
    let (mut c, id) = connected(&w).await;
    let m = format!("/api/v1/integrations/{id}/mappings");
    put(
        &mut c,
        &format!("{m}/plans/basic"),
        json!({"membership_type_id": 6001}),
    )
    .await;
    put(
        &mut c,
        &format!("{m}/job-types/cooling"),
        json!({"business_unit_id": 1001, "job_type_id": 2001}),
    )
    .await;
    put(
        &mut c,
        &format!("{m}/job-types/heating"),
        json!({"business_unit_id": 1003, "job_type_id": 2003}),
    )
    .await;
    put(
        &mut c,
        &format!("{m}/tag-type"),
        json!({"name": "smartac.com"}),
    )
    .await;
    let r = c
        .post(&format!("/api/v1/integrations/{id}/submit"), json!({}))
        .await;
    assert_eq!(r.status, 422, "{}", r.text);
    let messages: Vec<String> = r.json()["error"]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            assert_eq!(f["field"], "mappings");
            f["message"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(
        messages,
        [
            "Membership type for plan \"Plus\" is not mapped yet",
            "Membership type for plan \"Premium\" is not mapped yet",
            "Job type for Air quality → Filter change is not mapped yet",
            "Job type for Air quality → Humidity too high or too low is not mapped yet",
            "Job type for Air quality → Odor or stale air is not mapped yet",
            "Custom field for Comfort Credit is not mapped yet",
            "Eligible services for Comfort Credits is not mapped yet",
            "Campaign for new jobs is not mapped yet",
        ]
    );
    let v = c.get(&format!("/api/v1/integrations/{id}")).await.json();
    assert_eq!(v["state"], "credentials_connected");
}

#[tokio::test]
async fn mappings_belong_to_their_partner_and_wait_for_credentials() {
    let w = world(|_| {}).await;
    let (mut a, id) = connected(&w).await;
    let mut b = Client::signed_in(&w.app.address, ADMIN_B).await;
    let r = b.get(&format!("/api/v1/integrations/{id}/mappings")).await;
    assert_eq!(r.status, 404);
    let r = put(
        &mut b,
        &format!("/api/v1/integrations/{id}/mappings/campaign"),
        json!({"campaign_id": 8001}),
    )
    .await;
    assert_eq!(r.status, 404);
    let r = b
        .get(&format!("/api/v1/integrations/{id}/tenant-lists/campaigns"))
        .await;
    assert_eq!(r.status, 404);
    // B's own integration has no credentials: lists and edits are 409.
    let b_id = my_integration(&mut b).await;
    let r = b
        .get(&format!(
            "/api/v1/integrations/{b_id}/tenant-lists/campaigns"
        ))
        .await;
    assert_eq!(r.status, 409, "{}", r.text);
    let r = put(
        &mut b,
        &format!("/api/v1/integrations/{b_id}/mappings/campaign"),
        json!({"campaign_id": 8001}),
    )
    .await;
    assert_eq!(r.status, 409, "{}", r.text);
    // Without the CSRF header a PUT is refused.
    let r = a
        .send(
            Method::PUT,
            &format!("/api/v1/integrations/{id}/mappings/campaign"),
            Some(json!({"campaign_id": 8001})),
            false,
        )
        .await;
    assert_eq!(r.status, 403);
    let r = a
        .get(&format!("/api/v1/integrations/{id}/tenant-lists/widgets"))
        .await;
    refused(&r, "kind", "unknown list 'widgets'");
}

#[tokio::test]
async fn live_lists_are_filtered_and_cached() {
    let w = world(|_| {}).await;
    let (mut c, id) = connected(&w).await;
    let l = format!("/api/v1/integrations/{id}/tenant-lists");
    let r = c.get(&format!("{l}/membership-types")).await;
    assert_eq!(r.status, 200, "{}", r.text);
    let v = r.json();
    let names: Vec<&str> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 4, "active only by default: {names:?}");
    assert!(!names.contains(&"Legacy Maintenance Plan"));
    let r = c
        .get(&format!("{l}/membership-types?include_inactive=true"))
        .await;
    assert_eq!(r.json()["total"], 5);
    let r = c.get(&format!("{l}/job-types?business_unit_id=1002")).await;
    let ids: Vec<i64> = r.json()["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, [2004, 2005, 2006]);
    let r = c.get(&format!("{l}/campaigns?q=smart")).await;
    assert_eq!(r.json()["items"][0]["name"], "SmartAC.com");
    assert_eq!(r.json()["total"], 1);
    // Within the cache lifetime, repeated reads cost ServiceTitan nothing.
    let tenant = TenantSeed::demo().tenant_id;
    let (before, _) = w.sandbox.state.call_counts(tenant).unwrap();
    for q in ["a", "b", "c"] {
        let r = c.get(&format!("{l}/campaigns?q={q}")).await;
        assert_eq!(r.status, 200);
    }
    let (after, _) = w.sandbox.state.call_counts(tenant).unwrap();
    assert_eq!(before, after);
}

#[tokio::test]
async fn five_hundred_job_types_and_two_thousand_services_page_correctly() {
    let w = world(|_| {}).await;
    let tenant = TenantSeed::demo().tenant_id;
    assert!(w.sandbox.state.seed_large_catalog(tenant, 500, 2000));
    let (mut c, id) = connected(&w).await;
    let l = format!("/api/v1/integrations/{id}/tenant-lists");

    // Services: 18 seeded (5 of them membership sale tasks) + 2,000 generated, every tenth
    // generated one inactive.
    let (calls_before, _) = w.sandbox.state.call_counts(tenant).unwrap();
    let mut seen = std::collections::BTreeSet::new();
    let mut page = 1;
    loop {
        let r = c
            .get(&format!("{l}/services?page={page}&page_size=200"))
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let v = r.json();
        assert_eq!(v["total"], 16 + 1800);
        let items = v["items"].as_array().unwrap();
        assert!(items.len() <= 200);
        for i in items {
            assert_eq!(i["active"], true);
            assert!(seen.insert(i["id"].as_i64().unwrap()), "duplicate {i}");
        }
        if v["has_more"] == false {
            break;
        }
        page += 1;
    }
    assert_eq!((seen.len(), page), (1816, 10));
    // The whole list came from ServiceTitan once, in pages of 500 (5 calls), then the cache.
    let (calls_after, _) = w.sandbox.state.call_counts(tenant).unwrap();
    assert_eq!(calls_after - calls_before, 5);

    // Search narrows 2,000 services to what the partner typed.
    let r = c
        .get(&format!("{l}/services?q=generated%20service%2001%23"))
        .await;
    assert_eq!(r.json()["total"], 0);
    let r = c
        .get(&format!("{l}/services?q=Generated%20Service%200012"))
        .await;
    assert_eq!(
        r.json()["total"],
        9,
        "00120..00129 less the inactive 00129: {}",
        r.text
    );
    let r = c
        .get(&format!("{l}/services?q=gen-01999&include_inactive=true"))
        .await;
    assert_eq!(r.json()["items"][0]["active"], false);
    assert_eq!(r.json()["items"][0]["code"], "GEN-01999");

    // Job types filtered by business unit page through the same way.
    let r = c
        .get(&format!(
            "{l}/job-types?business_unit_id=1001&page_size=500"
        ))
        .await;
    let v = r.json();
    let all = v["total"].as_u64().unwrap();
    assert!(all > 50, "{all}");
    let mut got = 0;
    let mut page = 1;
    loop {
        let v = c
            .get(&format!(
                "{l}/job-types?business_unit_id=1001&page={page}&page_size=25"
            ))
            .await
            .json();
        for i in v["items"].as_array().unwrap() {
            assert!(
                i["business_unit_ids"]
                    .as_array()
                    .unwrap()
                    .contains(&json!(1001))
            );
            got += 1;
        }
        if v["has_more"] == false {
            break;
        }
        page += 1;
    }
    assert_eq!(got, all);

    // Picking generated services works, an inactive generated one is refused.
    let items = c.get(&format!("{l}/services?q=gen-0150")).await.json()["items"].clone();
    let ids: Vec<i64> = items
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids.len(), 9);
    let r = put(
        &mut c,
        &format!("/api/v1/integrations/{id}/mappings/eligible-services"),
        json!({"service_ids": ids}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.text);
    assert_eq!(r.json()["eligible_services"].as_array().unwrap().len(), 9);
}

/// Follows a POST's redirect and returns the flash text shown on the next page.
async fn flash_after(c: &mut Client, r: common_onb::Resp) -> String {
    assert_eq!(r.status, 303, "{}", r.text);
    let page = c.get(&r.location()).await;
    assert_eq!(page.status, 200, "{}", page.text);
    let i = page
        .text
        .find("id=\"flash\">")
        .map(|i| i + "id=\"flash\">".len())
        .unwrap_or(0);
    page.text[i..]
        .split("</div>")
        .next()
        .unwrap_or_default()
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&quot;", "\"")
        .replace("&#34;", "\"")
        .replace("&amp;", "&")
}

#[tokio::test]
async fn wizard_pages_walk_every_step() {
    let w = world(|_| {}).await;
    let tenant = TenantSeed::demo().tenant_id;
    assert!(w.sandbox.state.seed_large_catalog(tenant, 500, 2000));
    let (mut c, id) = connected(&w).await;
    let base = "/settings/integrations/servicetitan/mappings";
    let page = c.get(base).await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(
        page.text
            .contains("Membership type for plan &quot;Basic&quot;")
            || page
                .text
                .contains("Membership type for plan &#34;Basic&#34;"),
        "{}",
        page.text
    );
    let csrf = Client::page_csrf(&page.text).unwrap();

    // Plans: the dropdown lists active membership types only.
    let page = c.get(&format!("{base}/plans")).await;
    assert!(page.text.contains("Comfort Club Gold"));
    assert!(!page.text.contains("Legacy Maintenance Plan"));
    // One form, one Save for every plan; an inactive choice is refused at its field and
    // nothing of the form is saved.
    let r = c
        .form(
            &format!("{base}/plans"),
            &[
                ("csrf_token", &csrf),
                ("basic.membership_type_id", "6001"),
                ("plus.membership_type_id", "6002"),
                ("premium.membership_type_id", "6005"),
            ],
        )
        .await;
    assert!(flash_after(&mut c, r).await.contains("is inactive"));
    let v = c
        .get(&format!("/api/v1/integrations/{id}/mappings"))
        .await
        .json();
    assert!(v["plans"][0]["membership_type"].is_null(), "all or nothing");
    let r = c
        .form(
            &format!("{base}/plans"),
            &[
                ("csrf_token", &csrf),
                ("basic.membership_type_id", "6001"),
                ("plus.membership_type_id", "6002"),
                ("premium.membership_type_id", "6003"),
            ],
        )
        .await;
    assert_eq!(flash_after(&mut c, r).await, "Plans saved.");

    // Job types: choose a unit, page through its job types, apply to all conditions.
    let page = c
        .get(&format!(
            "{base}/job-types?trade=cooling&condition=not_cooling&business_unit_id=1001"
        ))
        .await;
    assert!(page.text.contains("AC Tune-Up"), "{}", page.text);
    assert!(
        page.text.contains("id=\"next-page\""),
        "25 per page, more follow"
    );
    assert!(
        !page.text.contains("AC Replacement Estimate"),
        "not allowed for HVAC Service"
    );
    let page = c
        .get(&format!(
            "{base}/job-types?trade=cooling&condition=not_cooling&business_unit_id=1001&q=furnace"
        ))
        .await;
    assert!(page.text.contains("Furnace Tune-Up"));
    assert!(!page.text.contains("AC Tune-Up"));
    for trade in ["cooling", "heating", "air_quality"] {
        let r = c
            .form(
                &format!("{base}/job-types"),
                &[
                    ("csrf_token", &csrf),
                    ("trade", trade),
                    ("condition", "*"),
                    ("business_unit_id", "1001"),
                    ("job_type_id", "2001"),
                ],
            )
            .await;
        assert_eq!(
            flash_after(&mut c, r).await,
            "Saved for every condition of this trade."
        );
    }
    let r = c
        .form(
            &format!("{base}/job-types"),
            &[
                ("csrf_token", &csrf),
                ("trade", "cooling"),
                ("condition", "noisy"),
                ("business_unit_id", "1001"),
                ("job_type_id", "2004"),
            ],
        )
        .await;
    assert!(
        flash_after(&mut c, r)
            .await
            .contains("is not allowed for business unit 'HVAC Service'")
    );

    // Credit field: a near miss suggests the real name; the real name is found.
    let page = c.get(&format!("{base}/credit-field")).await;
    assert!(page.text.contains("value=\"Comfort Credits\""));
    let r = c
        .form(
            &format!("{base}/credit-field"),
            &[("csrf_token", &csrf), ("name", "Comfort Credts")],
        )
        .await;
    assert!(
        flash_after(&mut c, r)
            .await
            .contains("did you mean 'Comfort Credits'?")
    );
    let r = c
        .form(
            &format!("{base}/credit-field"),
            &[("csrf_token", &csrf), ("name", " comfort credits")],
        )
        .await;
    assert_eq!(
        flash_after(&mut c, r).await,
        "Comfort Credit field found and saved."
    );

    // Services: search the 2,000, tick two, remove one; an inactive one is refused.
    let page = c.get(&format!("{base}/services?q=tune-up")).await;
    assert!(page.text.contains("svc_7001") && page.text.contains("svc_7002"));
    assert!(
        !page.text.contains("svc_7012"),
        "inactive services are not offered"
    );
    let page = c.get(&format!("{base}/services")).await;
    assert!(
        page.text.contains("1816 active service(s)"),
        "{}",
        page.text
    );
    let r = c
        .form(
            &format!("{base}/services/add"),
            &[
                ("csrf_token", &csrf),
                ("svc_7001", "on"),
                ("svc_7002", "on"),
                ("svc_7003", "on"),
            ],
        )
        .await;
    assert_eq!(flash_after(&mut c, r).await, "Eligible services saved.");
    let r = c
        .form(
            &format!("{base}/services/remove"),
            &[("csrf_token", &csrf), ("service_id", "7003")],
        )
        .await;
    assert_eq!(flash_after(&mut c, r).await, "Service removed.");
    let r = c
        .form(
            &format!("{base}/services/add"),
            &[("csrf_token", &csrf), ("svc_7012", "on")],
        )
        .await;
    assert!(flash_after(&mut c, r).await.contains("is inactive"));

    // Tag (suggested SmartAC.com), campaign, capacity.
    let page = c.get(&format!("{base}/tag-type")).await;
    assert!(page.text.contains("value=\"SmartAC.com\""));
    let r = c
        .form(
            &format!("{base}/tag-type"),
            &[("csrf_token", &csrf), ("name", "SmartAC.com")],
        )
        .await;
    assert_eq!(flash_after(&mut c, r).await, "Tag type found and saved.");
    let page = c.get(&format!("{base}/campaign")).await;
    assert!(page.text.contains("SmartAC.com") && !page.text.contains("Direct Mail 2021"));
    let r = c
        .form(
            &format!("{base}/campaign"),
            &[("csrf_token", &csrf), ("campaign_id", "8005")],
        )
        .await;
    assert!(flash_after(&mut c, r).await.contains("is inactive"));
    let r = c
        .form(
            &format!("{base}/campaign"),
            &[("csrf_token", &csrf), ("campaign_id", "8001")],
        )
        .await;
    assert_eq!(flash_after(&mut c, r).await, "Campaign saved.");
    let r = c
        .form(
            &format!("{base}/capacity"),
            &[
                ("csrf_token", &csrf),
                ("enabled", "on"),
                ("mode", "technician"),
            ],
        )
        .await;
    assert!(
        flash_after(&mut c, r)
            .await
            .contains("real-time capacity scheduling is on")
    );
    // A form without the token is refused.
    let r = c
        .form(&format!("{base}/campaign"), &[("campaign_id", "8001")])
        .await;
    assert_eq!(r.status, 403);

    // Overview: nothing missing; submit goes live.
    let page = c.get(base).await;
    assert!(
        page.text.contains("id=\"nothing-missing\""),
        "{}",
        page.text
    );
    let r = c
        .form(
            "/settings/integrations/servicetitan/submit",
            &[("csrf_token", &csrf), ("reviewed", "yes")],
        )
        .await;
    assert_eq!(r.status, 303);
    let v = c.get(&format!("/api/v1/integrations/{id}")).await.json();
    assert_eq!(v["state"], "active");
    // Still editable after going live.
    let page = c.get("/settings/integrations/servicetitan").await;
    assert!(page.text.contains("id=\"edit-mappings\""));
    let page = c.get(&format!("{base}/plans")).await;
    assert_eq!(page.status, 200);
}

#[tokio::test]
async fn mapping_pages_wait_for_credentials() {
    let w = world(|_| {}).await;
    let mut c = Client::signed_in(&w.app.address, ADMIN_B).await;
    let r = c
        .get("/settings/integrations/servicetitan/mappings/plans")
        .await;
    assert_eq!(r.status, 303);
    assert_eq!(r.location(), "/settings/integrations/servicetitan");
    let signed_out = Client::new(&w.app.address)
        .get("/settings/integrations/servicetitan/mappings")
        .await;
    assert_eq!(signed_out.status, 303);
    assert!(signed_out.location().starts_with("/signin"));
}

#[tokio::test]
async fn openapi_documents_the_mapping_endpoints() {
    let w = world(|_| {}).await;
    let mut c = Client::new(&w.app.address);
    let doc = c.get("/api/v1/openapi.json").await.json();
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/api/v1/integrations/{id}/mappings",
        "/api/v1/integrations/{id}/tenant-lists/{kind}",
        "/api/v1/integrations/{id}/mappings/plans/{plan}",
        "/api/v1/integrations/{id}/mappings/job-types/{trade}",
        "/api/v1/integrations/{id}/mappings/job-types/{trade}/{condition}",
        "/api/v1/integrations/{id}/mappings/credit-field",
        "/api/v1/integrations/{id}/mappings/eligible-services",
        "/api/v1/integrations/{id}/mappings/tag-type",
        "/api/v1/integrations/{id}/mappings/campaign",
        "/api/v1/integrations/{id}/mappings/capacity",
        "/api/v1/integrations/{id}/mappings/booking-provider",
    ] {
        assert!(
            paths.contains_key(p),
            "{p} missing from the OpenAPI document"
        );
    }
    assert!(doc["components"]["schemas"]["MappingsView"].is_object());
}
