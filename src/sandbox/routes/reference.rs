//! `/settings`, `/memberships`, `/dispatch`, `/pricebook`, `/accounting`, `/marketing`.
use chrono::{Duration, Utc};
use serde_json::{Map, Value, json};

use super::crm::get;
use super::{Problem, Reply, Req, body, id, list, not_served, ok};
use crate::sandbox::tenant::{Tenant, now, res, ts};

const MEMBERSHIP_STATUSES: &[&str] = &["Active", "Suspended", "Expired", "Canceled", "Deleted"];

pub(crate) fn route(t: &mut Tenant, req: &Req<'_>) -> Reply {
    let coll = match (req.method, req.module, req.segs.as_slice()) {
        ("GET", "settings", ["business-units"]) => res::BUSINESS_UNITS,
        ("GET", "settings", ["tag-types"]) => res::TAG_TYPES,
        ("GET", "settings", ["technicians"]) => res::TECHNICIANS,
        ("GET", "memberships", ["membership-types"]) => res::MEMBERSHIP_TYPES,
        ("GET", "memberships", ["memberships"]) => res::MEMBERSHIPS,
        ("GET", "dispatch", ["arrival-windows"]) => res::ARRIVAL_WINDOWS,
        ("GET", "pricebook", ["services"]) => res::SERVICES,
        ("GET", "accounting", ["invoices"]) => res::INVOICES,
        ("GET", "marketing", ["campaigns"]) => res::CAMPAIGNS,
        ("GET", "memberships", ["membership-types", tid, "duration-billing-items"]) => {
            let tid = id(tid)?;
            if t.get(res::MEMBERSHIP_TYPES, tid).is_none() {
                return Err(Problem::not_found("Membership type", tid));
            }
            return ok(json!(duration_billing_items(tid)));
        }
        ("GET", "memberships", ["memberships", mid]) => {
            return get(t, res::MEMBERSHIPS, "Membership", id(mid)?);
        }
        ("PATCH", "memberships", ["memberships", mid]) => {
            return patch_membership(t, id(mid)?, body(req)?);
        }
        ("POST", "memberships", ["memberships", "sale"]) => return sell(t, &body::<Value>(req)?),
        ("POST", "dispatch", ["capacity"]) => {
            return super::capacity::capacity(t, &body::<Value>(req)?);
        }
        _ => return Err(not_served(req)),
    };
    list(t.coll(coll).values(), req)
}

fn duration_billing_items(type_id: i64) -> Vec<Value> {
    vec![
        json!({"id": type_id * 10 + 1, "duration": 12, "billingFrequency": "Monthly", "active": true}),
        json!({"id": type_id * 10 + 2, "duration": 12, "billingFrequency": "Annual", "active": true}),
    ]
}

fn need(b: &Value, field: &str) -> Result<i64, Problem> {
    b.get(field)
        .and_then(Value::as_i64)
        .ok_or_else(|| Problem::field(field, format!("The {field} field is required.")))
}

fn sell(t: &mut Tenant, b: &Value) -> Reply {
    let customer_id = need(b, "customerId")?;
    let bu = need(b, "businessUnitId")?;
    let sale_task = need(b, "saleTaskId")?;
    let billing = need(b, "durationBillingId")?;
    if t.get(res::CUSTOMERS, customer_id).is_none() {
        return Err(Problem::field(
            "customerId",
            format!("Customer {customer_id} does not exist."),
        ));
    }
    if !t.active(res::BUSINESS_UNITS, bu) {
        return Err(Problem::field(
            "businessUnitId",
            format!("Business unit {bu} does not exist or is inactive."),
        ));
    }
    let Some(mtype) = t
        .coll(res::MEMBERSHIP_TYPES)
        .values()
        .find(|m| m["saleTaskId"].as_i64() == Some(sale_task) && m["active"] == json!(true))
        .cloned()
    else {
        return Err(Problem::field(
            "saleTaskId",
            format!("No active membership type sells with task {sale_task}."),
        ));
    };
    let type_id = mtype["id"].as_i64().unwrap_or_default();
    if !duration_billing_items(type_id)
        .iter()
        .any(|d| d["id"].as_i64() == Some(billing))
    {
        return Err(Problem::field(
            "durationBillingId",
            format!("Option {billing} does not belong to membership type {type_id}."),
        ));
    }
    let location_id = b.get("locationId").and_then(Value::as_i64);
    if let Some(lid) = location_id {
        let owner = t
            .get(res::LOCATIONS, lid)
            .and_then(|l| l["customerId"].as_i64());
        if owner != Some(customer_id) {
            return Err(Problem::field(
                "locationId",
                format!("Location {lid} does not belong to customer {customer_id}."),
            ));
        }
    }
    let mid = t.new_id();
    let start = Utc::now();
    let months = mtype["duration"].as_i64().unwrap_or(12);
    let stamp = now();
    let rec = json!({
        "id": mid, "customerId": customer_id, "locationId": location_id, "businessUnitId": bu,
        "membershipTypeId": type_id, "status": "Active", "from": ts(start),
        "to": ts(start + Duration::days(months * 365 / 12)), "memo": null,
        "createdOn": stamp, "modifiedOn": stamp,
    });
    t.coll(res::MEMBERSHIPS).insert(mid, rec);
    ok(json!({"customerMembershipId": mid, "invoiceId": null}))
}

fn patch_membership(t: &mut Tenant, mid: i64, b: Map<String, Value>) -> Reply {
    let mut rec = t
        .get(res::MEMBERSHIPS, mid)
        .cloned()
        .ok_or_else(|| Problem::not_found("Membership", mid))?;
    for (k, v) in b {
        match k.as_str() {
            "status" => {
                if !v.as_str().is_some_and(|s| MEMBERSHIP_STATUSES.contains(&s)) {
                    return Err(Problem::field("status", "Unknown membership status."));
                }
                rec["status"] = v;
            }
            "to" | "memo" | "from" => rec[k.as_str()] = v,
            _ => {}
        }
    }
    rec["modifiedOn"] = json!(now());
    t.coll(res::MEMBERSHIPS).insert(mid, rec.clone());
    ok(rec)
}
