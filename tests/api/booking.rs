//! Capacity-aware booking over real HTTP against the sandbox: the last-slot race, idempotent
//! retries, the call-centre fallback (capacity off, job refused), an outage finished by the
//! queue, status flowing back from the pollers, and 422s naming the field.
use crate::helpers::sync as sync_support;

use std::time::Duration;

use chrono::{Duration as Days, Utc};
use sea_orm::{ActiveModelTrait, EntityTrait, Set};
use serde_json::{Value, json};
use titanbridge::sandbox::Faults;
use titanbridge::store::entities::{integration, job_type_mapping};
use titanbridge::store::links;
use tokio::sync::watch;

use sync_support::{World, member_body, spawn_worker, test_worker_options, wait_for, world};

/// Electrical Service: one job per arrival window, so a slot's last place is easy to race for.
const ONE_PER_WINDOW_BU: i64 = 1005;
const PANEL_ESTIMATE_JT: i64 = 2009;

struct Booking {
    w: World,
    _worker: watch::Sender<bool>,
}

/// One partner, member `loc-1` linked in ServiceTitan, cooling/not_cooling mapped to
/// (`bu`, `jt`), capacity scheduling on or off, a worker running.
async fn setup(capacity: bool, bu: i64, jt: i64) -> Booking {
    let w = world(1).await;
    let db = w.app.state.store.db();
    let iid = w.partners[0].integration_id;
    let mut i: integration::ActiveModel = integration::Entity::find_by_id(iid)
        .one(db)
        .await
        .expect("db")
        .expect("integration")
        .into();
    i.capacity_enabled = Set(capacity);
    i.capacity_mode = Set(Some("business_unit".into()));
    i.update(db).await.expect("update integration");
    job_type_mapping::ActiveModel {
        integration_id: Set(iid),
        trade: Set("cooling".into()),
        condition: Set("not_cooling".into()),
        business_unit_id: Set(bu),
        business_unit_name: Set("mapped unit".into()),
        job_type_id: Set(jt),
        job_type_name: Set("mapped type".into()),
        updated_at: Set(Utc::now()),
        ..Default::default()
    }
    .insert(db)
    .await
    .expect("mapping");
    let r = w.put_member(0, "m-1", &member_body(1, None)).await;
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.expect("json");
    let loc_id = body["locations"][0]["location_id"]
        .as_i64()
        .expect("location id");
    let worker = spawn_worker(
        w.app.state.clone(),
        test_worker_options(&w.app.state.settings),
    );
    wait_for("location link", Duration::from_secs(20), || async {
        links::st_id(db, iid, links::kind::LOCATION, loc_id)
            .await
            .expect("db")
    })
    .await;
    Booking { w, _worker: worker }
}

impl Booking {
    /// The activity log's rows of `kind` for the partner's integration.
    async fn logged(&self, kind: &str) -> Vec<titanbridge::store::entities::sync_activity::Model> {
        use sea_orm::{ColumnTrait, QueryFilter};
        use titanbridge::store::entities::sync_activity;
        sync_activity::Entity::find()
            .filter(sync_activity::Column::IntegrationId.eq(self.w.partners[0].integration_id))
            .filter(sync_activity::Column::Kind.eq(kind))
            .all(self.w.app.state.store.db())
            .await
            .expect("db")
    }

    /// The member and location behind `loc-1`.
    async fn member_and_location(&self) -> (i64, i64) {
        let l = titanbridge::store::members::location_by_external(
            self.w.app.state.store.db(),
            self.w.partners[0].partner_id,
            "loc-1",
        )
        .await
        .expect("db")
        .expect("location");
        (l.member_id, l.id)
    }

    fn url(&self, path: &str) -> String {
        format!("{}/api/v1/platform{path}", self.w.app.address)
    }

    async fn availability(&self, query: &str) -> (u16, Value) {
        let r = self
            .w
            .app
            .http
            .get(self.url(&format!("/locations/loc-1/availability?{query}")))
            .bearer_auth(&self.w.partners[0].token)
            .send()
            .await
            .expect("request");
        (r.status().as_u16(), r.json().await.expect("json"))
    }

    /// Open slots for cooling/not_cooling over the next four days.
    async fn slots(&self) -> Vec<Value> {
        let from = (Utc::now() + Days::days(1)).format("%Y-%m-%d");
        let to = (Utc::now() + Days::days(5)).format("%Y-%m-%d");
        let (status, body) = self
            .availability(&format!(
                "trade=cooling&condition=not_cooling&from={from}&to={to}"
            ))
            .await;
        assert_eq!(status, 200, "{body}");
        body["slots"].as_array().cloned().unwrap_or_default()
    }

    async fn book(&self, key: Option<&str>, body: &Value) -> (u16, Value, bool) {
        let mut req = self
            .w
            .app
            .http
            .post(self.url("/locations/loc-1/bookings"))
            .bearer_auth(&self.w.partners[0].token)
            .json(body);
        if let Some(k) = key {
            req = req.header("Idempotency-Key", k);
        }
        let r = req.send().await.expect("request");
        let replay = r.headers().contains_key("idempotent-replay");
        (r.status().as_u16(), r.json().await.expect("json"), replay)
    }

    async fn get(&self, id: i64) -> Value {
        let r = self
            .w
            .app
            .http
            .get(self.url(&format!("/bookings/{id}")))
            .bearer_auth(&self.w.partners[0].token)
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), 200);
        r.json().await.expect("json")
    }

    /// Jobs in the sandbox carrying booking `id` in externalData.
    fn jobs_for(&self, id: i64) -> usize {
        self.w
            .snapshot(0)
            .jobs
            .iter()
            .filter(|j| {
                j.external(titanbridge::booking::EXTERNAL_KEY) == Some(id.to_string().as_str())
            })
            .count()
    }
}

fn book_body(slot: Option<&Value>) -> Value {
    let mut b =
        json!({"trade": "cooling", "condition": "not_cooling", "summary": "AC blows warm air"});
    if let Some(s) = slot {
        b["slot"] = json!({"start": s["start"], "end": s["end"]});
    }
    b
}

fn same_slot(a: &Value, b: &Value) -> bool {
    a["start"] == b["start"] && a["end"] == b["end"]
}

#[tokio::test]
async fn last_slot_race_books_one_job_and_409s_the_other_with_alternatives() {
    let t = setup(true, ONE_PER_WINDOW_BU, PANEL_ESTIMATE_JT).await;
    let slots = t.slots().await;
    assert!(slots.len() > 3, "expected open slots, got {slots:?}");
    let slot = slots[0].clone();
    let body = book_body(Some(&slot));
    let (a, b) = tokio::join!(t.book(Some("race-a"), &body), t.book(Some("race-b"), &body));
    let mut results = [a, b];
    results.sort_by_key(|r| r.0);
    let [(s1, won, _), (s2, lost, _)] = results;
    assert_eq!((s1, s2), (201, 409), "won={won} lost={lost}");
    assert_eq!(won["status"], "scheduled");
    let job_id = won["servicetitan_job_id"].as_i64().expect("job id");
    assert_eq!(won["arrival_window"]["start"], slot["start"]);
    assert_eq!(lost["error"]["code"], "slot_taken");
    let alts = lost["error"]["alternatives"]
        .as_array()
        .expect("alternatives");
    assert!(!alts.is_empty());
    assert!(alts.iter().all(|a| !same_slot(a, &slot)), "{alts:?}");
    assert_eq!(lost["booking"]["status"], "failed");

    // Exactly one job, with our ID, tag, campaign and the mapped unit/type.
    let snap = t.w.snapshot(0);
    assert_eq!(snap.jobs.len(), 1);
    let job = &snap.jobs[0];
    assert_eq!(job.id, job_id);
    assert_eq!(job.business_unit_id, ONE_PER_WINDOW_BU);
    assert_eq!(job.job_type_id, PANEL_ESTIMATE_JT);
    assert_eq!(job.campaign_id, sync_support::CAMPAIGN);
    assert_eq!(job.tag_type_ids, vec![sync_support::TAG_TYPE]);
    assert_eq!(t.jobs_for(won["booking_id"].as_i64().expect("id")), 1);

    // The filled slot is no longer offered; the alternatives are.
    let after = t.slots().await;
    assert!(after.iter().all(|s| !same_slot(s, &slot)));
    for a in alts {
        assert!(after.iter().any(|s| same_slot(s, a)));
    }
}

#[tokio::test]
async fn same_key_twice_is_the_same_booking_and_one_job() {
    let t = setup(true, 1001, 2002).await;
    let slots = t.slots().await;
    let body = book_body(Some(&slots[1]));
    let (s1, first, replay1) = t.book(Some("key-1"), &body).await;
    let (s2, again, replay2) = t.book(Some("key-1"), &body).await;
    assert_eq!((s1, s2), (201, 200), "{first} / {again}");
    assert!(!replay1 && replay2);
    assert_eq!(first["booking_id"], again["booking_id"]);
    assert_eq!(first["servicetitan_job_id"], again["servicetitan_job_id"]);
    assert_eq!(t.w.snapshot(0).jobs.len(), 1);
    // The job is in the activity log once (the replay wrote nothing), for the member.
    let jobs = t.logged("job").await;
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    let (member_id, location_id) = t.member_and_location().await;
    assert_eq!(jobs[0].st_id, first["servicetitan_job_id"].as_i64());
    assert_eq!(jobs[0].member_id, Some(member_id));
    assert_eq!(jobs[0].location_id, Some(location_id));
    assert_eq!(
        (jobs[0].direction.as_str(), jobs[0].result.as_str()),
        ("out", "ok")
    );
    let fields: Value = serde_json::from_str(jobs[0].fields.as_deref().expect("fields")).unwrap();
    assert_eq!(fields["booking"]["after"], first["booking_id"].to_string());

    // Concurrent repeats of a new key: still one booking, one job.
    let other = book_body(Some(&slots[2]));
    let (a, b) = tokio::join!(t.book(Some("key-2"), &other), t.book(Some("key-2"), &other));
    assert_eq!(a.1["booking_id"], b.1["booking_id"]);
    assert_eq!(t.w.snapshot(0).jobs.len(), 2);

    // The same key with a different request is refused, naming the header.
    let mut changed = body.clone();
    changed["summary"] = json!("something else");
    let (s, err, _) = t.book(Some("key-1"), &changed).await;
    assert_eq!(s, 422);
    assert_eq!(err["error"]["fields"][0]["field"], "Idempotency-Key");
}

#[tokio::test]
async fn capacity_off_creates_a_tagged_booking_request() {
    let t = setup(false, 1001, 2002).await;
    let (status, avail) = t.availability("trade=cooling&condition=not_cooling").await;
    assert_eq!(status, 200);
    assert_eq!(avail["mode"], "request");
    assert_eq!(avail["slots"], json!([]));

    let (s, b, _) = t.book(Some("req-1"), &book_body(None)).await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["status"], "requested");
    let st_booking = b["servicetitan_booking_id"].as_i64().expect("booking id");
    let logged = t.logged("booking").await;
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert_eq!(logged[0].st_id, Some(st_booking));
    assert_eq!(logged[0].member_id, Some(t.member_and_location().await.0));
    assert!(t.logged("job").await.is_empty());
    let snap = t.w.snapshot(0);
    assert!(snap.jobs.is_empty());
    assert_eq!(snap.bookings.len(), 1);
    let req = &snap.bookings[0];
    assert_eq!(req.id, st_booking);
    assert_eq!(
        req.external_id.as_deref(),
        Some(b["booking_id"].to_string().as_str())
    );
    // The path's booking provider is the tenant's booking provider tag (the sandbox seeds one,
    // 9601), not the partner's tag type; with one active tag it is found and remembered.
    assert_eq!(req.booking_provider_id, Some(9601));
    let row = titanbridge::store::integrations::find(
        t.w.app.state.store.db(),
        t.w.partners[0].integration_id,
    )
    .await
    .expect("db")
    .expect("integration");
    assert_eq!(row.booking_provider_id, Some(9601));
    let summary = req.summary.as_deref().unwrap_or_default();
    assert!(summary.contains("[SmartAC.com]"), "{summary}");
    assert!(summary.contains("AC blows warm air"), "{summary}");
    assert_eq!(req.campaign_id, Some(sync_support::CAMPAIGN));
    assert_eq!(req.business_unit_id, Some(1001));
}

#[tokio::test]
async fn a_booking_request_whose_create_answer_is_lost_is_created_once() {
    let t = setup(false, 1001, 2002).await;
    // ServiceTitan processes the create but the answer never reaches us; it would accept a
    // second booking with the same externalId.
    t.w.sandbox.state.lose_next_answer("POST", "/bookings");
    let (s, b, _) = t.book(Some("lost-1"), &book_body(None)).await;
    assert_eq!(s, 202, "pending while ServiceTitan is unsure: {b}");
    let id = b["booking_id"].as_i64().expect("booking id");
    let done = wait_for(
        "the request to complete",
        Duration::from_secs(30),
        || async {
            let v = t.get(id).await;
            (v["status"] == "requested").then_some(v)
        },
    )
    .await;
    let snap = t.w.snapshot(0);
    let ours: Vec<_> = snap
        .bookings
        .iter()
        .filter(|x| x.external_id.as_deref() == Some(id.to_string().as_str()))
        .collect();
    assert_eq!(ours.len(), 1, "created once, found again by externalId");
    assert_eq!(done["servicetitan_booking_id"].as_i64(), Some(ours[0].id));
    let creates = snap
        .calls_by_endpoint
        .get("POST /crm/booking-provider/{id}/bookings")
        .copied()
        .unwrap_or(0);
    assert_eq!(creates, 1);
}

#[tokio::test]
async fn refused_job_falls_back_to_a_booking_request() {
    let t = setup(true, 1001, 2002).await;
    let db = t.w.app.state.store.db();
    let iid = t.w.partners[0].integration_id;
    // Point our location link at another customer's location: ServiceTitan refuses the job
    // (400: the location does not belong to the customer).
    let ours = links::all_of_kind(db, iid, links::kind::LOCATION)
        .await
        .expect("links")[0];
    let snap = t.w.snapshot(0);
    let our_customer = snap
        .locations
        .iter()
        .find(|l| l.id == ours.1)
        .expect("our location")
        .customer_id;
    let foreign = snap
        .locations
        .iter()
        .find(|l| l.customer_id != our_customer)
        .expect("a seeded location")
        .id;
    links::replace(db, iid, links::kind::LOCATION, ours.0, foreign)
        .await
        .expect("relink");
    let slots = t.slots().await;
    let (s, b, _) = t.book(Some("refused"), &book_body(Some(&slots[0]))).await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["status"], "requested");
    let snap = t.w.snapshot(0);
    assert!(snap.jobs.is_empty());
    assert_eq!(snap.bookings.len(), 1);
    let req = &snap.bookings[0];
    assert_eq!(
        req.external_id.as_deref(),
        Some(b["booking_id"].to_string().as_str())
    );
    let summary = req.summary.as_deref().unwrap_or_default();
    assert!(summary.contains("refused the job"), "{summary}");
    assert_eq!(
        req.start,
        Some(
            chrono::DateTime::parse_from_rfc3339(slots[0]["start"].as_str().unwrap_or_default())
                .expect("start")
                .with_timezone(&Utc)
        )
    );
}

#[tokio::test]
async fn outage_answers_pending_then_the_queue_books_it() {
    let t = setup(true, 1001, 2002).await;
    let slots = t.slots().await;
    t.w.sandbox.state.set_faults(Faults {
        outage_until: Some(Utc::now() + Days::seconds(3)),
        ..Faults::default()
    });
    let (s, b, _) = t.book(Some("outage"), &book_body(Some(&slots[0]))).await;
    assert_eq!(s, 202, "{b}");
    assert_eq!(b["status"], "pending");
    let id = b["booking_id"].as_i64().expect("id");
    assert_eq!(t.get(id).await["status"], "pending");
    let done = wait_for("booking scheduled", Duration::from_secs(40), || async {
        let b = t.get(id).await;
        (b["status"] != "pending").then_some(b)
    })
    .await;
    assert_eq!(done["status"], "scheduled", "{done}");
    assert_eq!(t.jobs_for(id), 1);
    // A retry of the key after the fact is the same booking.
    let (s, again, _) = t.book(Some("outage"), &book_body(Some(&slots[0]))).await;
    assert_eq!(s, 200);
    assert_eq!(again["servicetitan_job_id"], done["servicetitan_job_id"]);
}

#[tokio::test]
async fn slow_servicetitan_answers_pending_and_the_attempt_finishes_in_the_background() {
    let t = setup(true, 1001, 2002).await;
    let slots = t.slots().await;
    // Two calls at 3 s each outlast the API's 5 s bounded wait.
    t.w.sandbox.state.set_faults(Faults {
        latency: Duration::from_secs(3),
        ..Faults::default()
    });
    let started = std::time::Instant::now();
    let (s, b, _) = t.book(Some("slow"), &book_body(Some(&slots[0]))).await;
    assert_eq!(s, 202, "{b}");
    assert!(started.elapsed() < Duration::from_secs(8));
    let id = b["booking_id"].as_i64().expect("id");
    let done = wait_for("booking scheduled", Duration::from_secs(30), || async {
        let b = t.get(id).await;
        (b["status"] != "pending").then_some(b)
    })
    .await;
    t.w.sandbox.state.set_faults(Faults::default());
    assert_eq!(done["status"], "scheduled", "{done}");
    assert_eq!(t.jobs_for(id), 1);
}

#[tokio::test]
async fn status_flows_back_from_the_jobs_poller() {
    let t = setup(true, 1001, 2002).await;
    let slots = t.slots().await;
    let (s, b, _) = t.book(Some("flow"), &book_body(Some(&slots[0]))).await;
    // On a loaded machine the inline attempt may outlast the bounded wait (202, finished by the
    // queue); either way the booking gets its job, whose status is what this test follows.
    assert!(s == 201 || s == 202, "{s} {b}");
    let id = b["booking_id"].as_i64().expect("id");
    let booked = wait_for("the booking's job", Duration::from_secs(30), || async {
        let b = t.get(id).await;
        b["servicetitan_job_id"].as_i64()
    })
    .await;
    let job = booked;
    assert!(
        t.w.sandbox
            .state
            .set_job_status(t.w.partners[0].tenant_id, job, "Completed")
    );
    let done = wait_for("booking completed", Duration::from_secs(20), || async {
        let b = t.get(id).await;
        (b["status"] == "completed").then_some(b)
    })
    .await;
    assert_eq!(done["servicetitan_job_id"], job);
}

#[tokio::test]
async fn a_call_centre_booking_is_followed_to_its_job_and_its_status() {
    let t = setup(false, 1001, 2002).await;
    let (s, b, _) = t.book(Some("cc-1"), &book_body(None)).await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(b["status"], "requested");
    let id = b["booking_id"].as_i64().expect("id");
    let st_booking = b["servicetitan_booking_id"].as_i64().expect("booking id");
    let tenant = t.w.partners[0].tenant_id;
    // The dispatcher turns the request into a job in ServiceTitan.
    let snap = t.w.snapshot(0);
    let customer = snap.customers[snap.customers.len() - 1].id;
    let location = snap
        .locations
        .iter()
        .find(|l| l.customer_id == customer)
        .expect("location")
        .id;
    let job = t.w.create_job(0, customer, location).await;
    assert!(t.w.sandbox.state.convert_booking(tenant, st_booking, job));
    let followed = wait_for(
        "the booking followed to its job",
        Duration::from_secs(30),
        || async {
            let b = t.get(id).await;
            (b["servicetitan_job_id"] == job).then_some(b)
        },
    )
    .await;
    assert_eq!(followed["status"], "scheduled");
    // From then on the job's status flows back like any booked job's.
    assert!(t.w.sandbox.state.set_job_status(tenant, job, "Canceled"));
    // Generous: on a loaded CI machine the jobs feed's next poll can take a while.
    wait_for("the booking cancelled", Duration::from_secs(90), || async {
        let b = t.get(id).await;
        (b["status"] == "cancelled").then_some(())
    })
    .await;
}

#[tokio::test]
async fn availability_dates_are_the_tenants_days_and_slots_carry_its_wall_clock() {
    let t = setup(true, 1001, 2002).await;
    // The sandbox tenant is at UTC-6: its day D runs from D 06:00Z to D+1 06:00Z.
    let day = (Utc::now() - Days::hours(6) + Days::days(2)).date_naive();
    let next = day.succ_opt().expect("next day");
    let (status, body) = t
        .availability(&format!(
            "trade=cooling&condition=not_cooling&from={day}&to={next}"
        ))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["utc_offset_minutes"], -360);
    let slots = body["slots"].as_array().cloned().unwrap_or_default();
    let local: Vec<&str> = slots
        .iter()
        .map(|s| s["local_start"].as_str().expect("local_start"))
        .collect();
    assert_eq!(
        local,
        [
            format!("{day}T08:00:00"),
            format!("{day}T12:00:00"),
            format!("{day}T16:00:00")
        ],
        "the tenant's three arrival windows of that day, on its clock"
    );
    // 16:00 local is 22:00 UTC; nothing of the next local day (from 06:00 UTC) is offered.
    assert_eq!(slots[2]["start"], json!(format!("{day}T22:00:00Z")));
}

#[tokio::test]
async fn bad_input_is_a_422_naming_the_field() {
    let t = setup(true, 1001, 2002).await;
    let slots = t.slots().await;
    let field = |v: &Value| v["error"]["fields"][0]["field"].as_str().map(str::to_owned);

    let (s, v, _) = t.book(None, &book_body(Some(&slots[0]))).await;
    assert_eq!((s, field(&v).as_deref()), (422, Some("Idempotency-Key")));

    let mut bad = book_body(Some(&slots[0]));
    bad["trade"] = json!("teleportation");
    let (s, v, _) = t.book(Some("bad-1"), &bad).await;
    assert_eq!((s, field(&v).as_deref()), (422, Some("trade")));

    let (s, v, _) = t.book(Some("bad-2"), &book_body(None)).await;
    assert_eq!((s, field(&v).as_deref()), (422, Some("slot")));

    let mut reversed = book_body(None);
    reversed["slot"] = json!({"start": slots[0]["end"], "end": slots[0]["start"]});
    let (s, v, _) = t.book(Some("bad-3"), &reversed).await;
    assert_eq!((s, field(&v).as_deref()), (422, Some("slot.end")));

    let mut unmapped = book_body(Some(&slots[0]));
    unmapped["condition"] = json!("noisy");
    let (s, v, _) = t.book(Some("bad-4"), &unmapped).await;
    assert_eq!((s, field(&v).as_deref()), (422, Some("condition")));

    let (s, v) = t.availability("trade=cooling").await;
    assert_eq!((s, field(&v).as_deref()), (422, Some("condition")));
    let (s, v) = t
        .availability("trade=cooling&condition=not_cooling&from=2030-01-01&to=2030-03-01")
        .await;
    assert_eq!((s, field(&v).as_deref()), (422, Some("to")));

    // Nothing was written to ServiceTitan by any of these.
    assert!(t.w.snapshot(0).jobs.is_empty());
}

#[tokio::test]
async fn bookings_for_a_condition_the_contractor_does_not_offer_are_refused_with_the_reason() {
    let b = setup(true, 1001, 2001).await;
    let db = b.w.app.state.store.db();
    let iid = b.w.partners[0].integration_id;
    let row = integration::Entity::find_by_id(iid)
        .one(db)
        .await
        .expect("db")
        .expect("integration");
    let actor = titanbridge::store::integrations::Actor::system();
    titanbridge::store::mappings::save(
        db,
        &row,
        &actor,
        &titanbridge::store::mappings::Change::Offered {
            trade: "air_quality".into(),
            conditions: vec!["odor".into(), "humidity".into()],
            offered: false,
            labels: "Air quality (two conditions)".into(),
        },
    )
    .await
    .expect("save");
    let from = (Utc::now() + Days::days(1)).format("%Y-%m-%d");
    let to = (Utc::now() + Days::days(5)).format("%Y-%m-%d");
    let (status, body) = b
        .availability(&format!(
            "trade=air_quality&condition=odor&from={from}&to={to}"
        ))
        .await;
    assert_eq!(status, 422, "{body}");
    let msg = body["error"]["fields"][0]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        msg.contains("does not offer Air quality → Odor or stale air"),
        "{body}"
    );
    assert_eq!(body["error"]["fields"][0]["field"], "condition");
    let jobs_before = b.w.snapshot(0).jobs.len();
    let (status, body, _) = b
        .book(
            Some("not-offered-1"),
            &json!({"trade": "air_quality", "condition": "humidity", "summary": "Too humid",
                    "slot": {"start": (Utc::now() + Days::days(2)).to_rfc3339(),
                             "end": (Utc::now() + Days::days(2) + Days::hours(2)).to_rfc3339()}}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert!(
        body["error"]["fields"][0]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("does not offer Air quality → Humidity too high or too low"),
        "{body}"
    );
    assert_eq!(
        b.w.snapshot(0).jobs.len(),
        jobs_before,
        "nothing was created in ServiceTitan"
    );
    // An offered, mapped condition still books.
    assert!(!b.slots().await.is_empty());
}
