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
        json!({"id": type_id * 10 + 1, "duration": 12, "billingFrequency": "Monthly",
               "salePrice": 0.0, "billingPrice": 19.0, "renewalPrice": 19.0, "importId": null,
               "active": true, "createdOn": "2024-01-15T12:00:00Z", "createdById": 0}),
        json!({"id": type_id * 10 + 2, "duration": 12, "billingFrequency": "Annual",
               "salePrice": 199.0, "billingPrice": 0.0, "renewalPrice": 199.0, "importId": null,
               "active": true, "createdOn": "2024-01-15T12:00:00Z", "createdById": 0}),
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
    const ACTIONS: &[&str] = &["None", "Single", "All"];
    if !b
        .get("recurringServiceAction")
        .and_then(Value::as_str)
        .is_some_and(|a| ACTIONS.contains(&a))
    {
        return Err(Problem::field(
            "recurringServiceAction",
            "The recurringServiceAction field is required (None, Single or All).",
        ));
    }
    // The type is the one the duration/billing option belongs to; its sale task (not exposed by
    // the API, kept as `_saleTaskId`) must be the one sent.
    let Some(mtype) = t
        .coll(res::MEMBERSHIP_TYPES)
        .values()
        .find(|m| {
            duration_billing_items(super::super::tenant::id_of(m))
                .iter()
                .any(|d| d["id"].as_i64() == Some(billing))
        })
        .cloned()
    else {
        return Err(Problem::field(
            "durationBillingId",
            format!("Duration/billing option {billing} does not exist."),
        ));
    };
    let type_id = mtype["id"].as_i64().unwrap_or_default();
    if mtype["active"] != json!(true) {
        return Err(Problem::field(
            "durationBillingId",
            format!("Membership type {type_id} is inactive."),
        ));
    }
    if t.get(res::SERVICES, sale_task).is_none() || mtype["_saleTaskId"].as_i64() != Some(sale_task)
    {
        return Err(Problem::field(
            "saleTaskId",
            format!("Task {sale_task} is not the sale task of membership type {type_id}."),
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
    let months = 12;
    let stamp = now();
    let recurring_location = b.get("recurringLocationId").and_then(Value::as_i64);
    let rec = json!({
        "id": mid, "customerId": customer_id, "locationId": location_id, "businessUnitId": bu,
        "recurringLocationId": recurring_location,
        "membershipTypeId": type_id, "status": "Active", "active": true, "from": ts(start),
        "to": ts(start + Duration::days(months * 365 / 12)), "memo": null,
        "followUpStatus": "NotAttempted", "followUpOn": stamp, "billingFrequency": "Monthly",
        "initialDeferredRevenue": 0.0, "customFields": [], "cancellationDate": null,
        "createdOn": stamp, "modifiedOn": stamp,
    });
    t.coll(res::MEMBERSHIPS).insert(mid, rec);
    // The sale invoice carries one `Service` item: the sale task.
    let iid = t.new_id();
    let item = t.new_id();
    let name = t
        .get(res::SERVICES, sale_task)
        .map(|s| s["displayName"].clone())
        .unwrap_or(Value::Null);
    let invoice = json!({
        "id": iid, "referenceNumber": format!("INV-{iid}"), "invoiceDate": stamp,
        "subTotal": "0.00", "salesTax": "0.00", "total": "0.00", "balance": "0.00",
        "customer": {"id": customer_id, "name": null}, "job": null, "membershipId": mid,
        "items": [{"id": item, "skuId": sale_task, "skuName": name, "displayName": name,
                   "type": "Service", "quantity": "1.00", "price": "0.00", "total": "0.00",
                   "membershipTypeId": type_id, "inventory": false, "taxable": false,
                   "isChargeable": true, "addOn": false, "order": 1,
                   "createdOn": stamp, "modifiedOn": stamp}],
        "active": true, "sentStatus": "NotSent", "reviewStatus": "NeedsReview",
        "invoiceConfiguration": "MembershipInvoice", "createdOn": stamp, "modifiedOn": stamp,
    });
    t.coll(res::INVOICES).insert(iid, invoice);
    ok(json!({"customerMembershipId": mid, "invoiceId": iid}))
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
            "to" | "memo" | "from" | "businessUnitId" | "locationId" => rec[k.as_str()] = v,
            _ => {}
        }
    }
    rec["modifiedOn"] = json!(now());
    t.coll(res::MEMBERSHIPS).insert(mid, rec.clone());
    ok(json!({"id": mid}))
}
