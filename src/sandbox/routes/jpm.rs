//! `/jpm`: jobs, appointments, job notes, job types.
use serde_json::{Map, Value, json};

use super::crm::{get, int_list};
use super::{
    Problem, Reply, Req, body, id, list, merge_custom_fields, not_served, ok, put_external_data,
    replace_custom_fields,
};
use crate::sandbox::tenant::{Tenant, now, res, ts};

const PRIORITIES: &[&str] = &["Low", "Normal", "High", "Urgent"];

pub(crate) fn route(t: &mut Tenant, req: &Req<'_>) -> Reply {
    match (req.method, req.segs.as_slice()) {
        ("GET", ["jobs"]) => list(t.coll(res::JOBS).values(), req),
        ("POST", ["jobs"]) => create_job(t, &body::<Value>(req)?).map(|v| (200, v)),
        ("GET", ["jobs", jid]) => get(t, res::JOBS, "Job", id(jid)?),
        ("PATCH", ["jobs", jid]) => patch_job(t, id(jid)?, body(req)?),
        ("GET", ["jobs", jid, "notes"]) => {
            let jid = id(jid)?;
            if t.get(res::JOBS, jid).is_none() {
                return Err(Problem::not_found("Job", jid));
            }
            let notes = t.notes.get(&jid).cloned().unwrap_or_default();
            list(notes.iter(), req)
        }
        ("POST", ["jobs", jid, "notes"]) => {
            let jid = id(jid)?;
            if t.get(res::JOBS, jid).is_none() {
                return Err(Problem::not_found("Job", jid));
            }
            let b: Value = body(req)?;
            let text = b.get("text").and_then(Value::as_str).unwrap_or_default();
            if text.trim().is_empty() {
                return Err(Problem::field("Text", "The Text field is required."));
            }
            let stamp = now();
            let note_id = t.new_id();
            let note = json!({
                "_id": note_id, "text": text,
                "isPinned": b.get("pinToTop").and_then(Value::as_bool).unwrap_or(false),
                "createdById": 0, "createdOn": stamp, "modifiedOn": stamp,
            });
            t.notes.entry(jid).or_default().push(note.clone());
            ok(note)
        }
        ("GET", ["job-types"]) => list(t.coll(res::JOB_TYPES).values(), req),
        ("GET", ["appointments"]) => list(t.coll(res::APPOINTMENTS).values(), req),
        _ => Err(not_served(req)),
    }
}

fn need_i64(b: &Value, field: &str) -> Result<i64, Problem> {
    b.get(field)
        .and_then(Value::as_i64)
        .ok_or_else(|| Problem::field(field, format!("The {field} field is required.")))
}

fn time_field(v: &Value, field: &str) -> Result<Option<String>, Problem> {
    match v.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => crate::servicetitan::models::ts::parse(s)
            .map(|t| Some(ts(t)))
            .ok_or_else(|| Problem::field(field, format!("'{s}' is not a valid date-time."))),
        Some(_) => Err(Problem::field(field, "Expected a date-time string.")),
    }
}

/// Validates and books a job with its appointments.
pub(crate) fn create_job(t: &mut Tenant, b: &Value) -> Result<Value, Problem> {
    let customer_id = need_i64(b, "customerId")?;
    let location_id = need_i64(b, "locationId")?;
    let bu = need_i64(b, "businessUnitId")?;
    let job_type = need_i64(b, "jobTypeId")?;
    let campaign = need_i64(b, "campaignId")?;
    if t.get(res::CUSTOMERS, customer_id).is_none() {
        return Err(Problem::field(
            "customerId",
            format!("Customer {customer_id} does not exist."),
        ));
    }
    let loc_owner = t
        .get(res::LOCATIONS, location_id)
        .map(|l| l["customerId"].as_i64());
    if loc_owner != Some(Some(customer_id)) {
        return Err(Problem::field(
            "locationId",
            format!("Location {location_id} does not belong to customer {customer_id}."),
        ));
    }
    if !t.active(res::BUSINESS_UNITS, bu) {
        return Err(Problem::field(
            "businessUnitId",
            format!("Business unit {bu} does not exist or is inactive."),
        ));
    }
    let jt_units = t
        .get(res::JOB_TYPES, job_type)
        .filter(|_| t.active(res::JOB_TYPES, job_type))
        .map(|jt| int_list(jt.get("businessUnitIds")));
    match jt_units {
        None => {
            return Err(Problem::field(
                "jobTypeId",
                format!("Job type {job_type} does not exist or is inactive."),
            ));
        }
        Some(units) if !units.contains(&bu) => {
            return Err(Problem::field(
                "jobTypeId",
                format!("Job type {job_type} is not valid for business unit {bu}."),
            ));
        }
        Some(_) => {}
    }
    if !t.active(res::CAMPAIGNS, campaign) {
        return Err(Problem::field(
            "campaignId",
            format!("Campaign {campaign} does not exist or is inactive."),
        ));
    }
    let priority = b
        .get("priority")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if !PRIORITIES.contains(&priority) {
        return Err(Problem::field(
            "priority",
            "Priority must be Low, Normal, High or Urgent.",
        ));
    }
    let appts = b
        .get("appointments")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if appts.is_empty() {
        return Err(Problem::field(
            "appointments",
            "At least one appointment is required.",
        ));
    }
    let mut parsed = Vec::new();
    for a in &appts {
        let (Some(start), Some(end)) = (time_field(a, "start")?, time_field(a, "end")?) else {
            return Err(Problem::field(
                "appointments",
                "Each appointment needs a start and an end.",
            ));
        };
        if end <= start {
            return Err(Problem::field(
                "appointments",
                "An appointment must end after it starts.",
            ));
        }
        let ws = time_field(a, "arrivalWindowStart")?.unwrap_or_else(|| start.clone());
        let we = time_field(a, "arrivalWindowEnd")?.unwrap_or_else(|| end.clone());
        parsed.push((start, end, ws, we, int_list(a.get("technicianIds"))));
    }
    put_external_data(&mut json!({}), b.get("externalData"))?;
    // New jobs inherit the job type's and the business unit's tags (API.md §16).
    let mut tags = int_list(b.get("tagTypeIds"));
    if let Some(bad) = tags.iter().find(|x| !t.active(res::TAG_TYPES, **x)) {
        return Err(Problem::field(
            "tagTypeIds",
            format!("Tag type {bad} does not exist or is inactive."),
        ));
    }
    for inherited in [
        t.get(res::JOB_TYPES, job_type)
            .map(|j| int_list(j.get("tagTypeIds"))),
        t.get(res::BUSINESS_UNITS, bu)
            .map(|u| int_list(u.get("tagTypeIds"))),
    ]
    .into_iter()
    .flatten()
    .flatten()
    {
        if !tags.contains(&inherited) {
            tags.push(inherited);
        }
    }
    let custom_fields = merge_custom_fields(
        t,
        res::JOB_FIELDS,
        None,
        b.get("customFields").unwrap_or(&Value::Null),
    )?;
    let fields = NewJobFields {
        customer_id,
        location_id,
        business_unit_id: bu,
        job_type_id: job_type,
        campaign_id: campaign,
        priority: priority.to_owned(),
        summary: b.get("summary").cloned().unwrap_or(Value::Null),
        tag_type_ids: tags,
        custom_fields,
        external_data: b.get("externalData").cloned().unwrap_or(Value::Null),
        status: "Scheduled".to_owned(),
    };
    let mut job = insert_job(t, fields, &parsed);
    if let Some(booking) = b.get("bookingId").and_then(Value::as_i64) {
        job["bookingId"] = json!(booking);
        t.coll(res::JOBS).insert(id_of_job(&job), job.clone());
    }
    Ok(job)
}

fn id_of_job(job: &Value) -> i64 {
    job["id"].as_i64().unwrap_or_default()
}

/// Fields of a job to insert without validation (bulk seeding uses this too).
pub(crate) struct NewJobFields {
    pub(crate) customer_id: i64,
    pub(crate) location_id: i64,
    pub(crate) business_unit_id: i64,
    pub(crate) job_type_id: i64,
    pub(crate) campaign_id: i64,
    pub(crate) priority: String,
    pub(crate) summary: Value,
    pub(crate) tag_type_ids: Vec<i64>,
    pub(crate) custom_fields: Value,
    pub(crate) external_data: Value,
    pub(crate) status: String,
}

/// Appointment times: start, end, arrival window start and end, technicians.
pub(crate) type ApptTimes = (String, String, String, String, Vec<i64>);

/// Inserts a job and its appointments.
pub(crate) fn insert_job(t: &mut Tenant, f: NewJobFields, appts: &[ApptTimes]) -> Value {
    let jid = t.new_id();
    let number = jid.to_string();
    let stamp = now();
    let mut appt_ids = Vec::new();
    for (i, (start, end, ws, we, techs)) in appts.iter().enumerate() {
        let aid = t.new_id();
        appt_ids.push(aid);
        let appt = json!({
            "id": aid, "jobId": jid, "appointmentNumber": format!("{number}-{}", i + 1),
            "start": start, "end": end, "arrivalWindowStart": ws, "arrivalWindowEnd": we,
            "status": "Scheduled", "customerId": f.customer_id, "_technicianIds": techs,
            "_businessUnitId": f.business_unit_id, "_jobTypeId": f.job_type_id,
            "specialInstructions": null, "unused": false, "createdById": 0,
            "isConfirmed": false, "active": true,
            "createdOn": stamp, "modifiedOn": stamp,
        });
        t.coll(res::APPOINTMENTS).insert(aid, appt);
    }
    // Every job has an invoice: its ID is reserved now, the invoice lands when work is billed.
    let invoice_id = t.new_id();
    let mut job = json!({
        "id": jid, "jobNumber": number, "customerId": f.customer_id, "locationId": f.location_id,
        "jobStatus": f.status, "completedOn": null, "businessUnitId": f.business_unit_id,
        "jobTypeId": f.job_type_id, "priority": f.priority, "campaignId": f.campaign_id,
        "summary": f.summary, "tagTypeIds": f.tag_type_ids, "customFields": f.custom_fields,
        "appointmentCount": appt_ids.len(), "firstAppointmentId": appt_ids.first().copied().unwrap_or(0),
        "lastAppointmentId": appt_ids.last().copied().unwrap_or(0),
        "noCharge": false, "notificationsEnabled": true, "createdById": 0, "customerPo": "",
        "invoiceId": invoice_id, "estimateIds": [], "equipmentIds": [], "bookingId": null,
        "membershipId": null, "createdOn": stamp, "modifiedOn": stamp, "_externalData": {},
    });
    // The seed and bulk paths insert valid bodies; a bad externalData there is a bug.
    if let Err(p) = put_external_data(&mut job, Some(&f.external_data)) {
        panic!("sandbox job externalData rejected: {}", p.title);
    }
    t.coll(res::JOBS).insert(jid, job.clone());
    job
}

fn patch_job(t: &mut Tenant, jid: i64, b: Map<String, Value>) -> Reply {
    let mut job = t
        .get(res::JOBS, jid)
        .cloned()
        .ok_or_else(|| Problem::not_found("Job", jid))?;
    for (k, v) in b {
        match k.as_str() {
            "tagTypeIds" => {
                let tags = int_list(Some(&v));
                if let Some(bad) = tags.iter().find(|x| t.get(res::TAG_TYPES, **x).is_none()) {
                    return Err(Problem::field(
                        "tagTypeIds",
                        format!("Tag type {bad} does not exist."),
                    ));
                }
                job["tagTypeIds"] = json!(tags);
            }
            "priority" => {
                if !v.as_str().is_some_and(|p| PRIORITIES.contains(&p)) {
                    return Err(Problem::field(
                        "priority",
                        "Priority must be Low, Normal, High or Urgent.",
                    ));
                }
                job["priority"] = v;
            }
            // Full-list replacement, like `tagTypeIds` (API.md §5.4).
            "customFields" => job["customFields"] = replace_custom_fields(t, res::JOB_FIELDS, &v)?,
            "externalData" => put_external_data(&mut job, Some(&v))?,
            "summary" => job["summary"] = v,
            _ => {}
        }
    }
    job["modifiedOn"] = json!(now());
    t.coll(res::JOBS).insert(jid, job.clone());
    ok(job)
}
