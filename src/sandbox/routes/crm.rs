//! `/crm`: customers, contacts, tags, locations, custom-field types, bookings.
use serde_json::{Map, Value, json};

use super::{
    Problem, Reply, Req, body, id, list, merge_custom_fields, not_served, ok, put_external_data,
    replace_custom_fields,
};
use crate::sandbox::tenant::{Tenant, now, res};

pub(crate) fn route(t: &mut Tenant, req: &Req<'_>) -> Reply {
    match (req.method, req.segs.as_slice()) {
        ("GET", ["customers"]) => list(t.coll(res::CUSTOMERS).values(), req),
        ("POST", ["customers"]) => insert_customer(t, &body::<Value>(req)?).map(|v| (200, v)),
        ("GET", ["customers", "custom-fields"]) => list(t.coll(res::CUSTOMER_FIELDS).values(), req),
        ("GET", ["customers", cid]) => get(t, res::CUSTOMERS, "Customer", id(cid)?),
        ("PATCH", ["customers", cid]) => patch(t, res::CUSTOMERS, "Customer", id(cid)?, req),
        ("GET", ["customers", cid, "contacts"]) => {
            let cid = exists(t, res::CUSTOMERS, "Customer", cid)?;
            let rows = t.contacts.get(&cid).cloned().unwrap_or_default();
            list(rows.iter(), req)
        }
        ("POST", ["customers", cid, "contacts"]) => {
            let cid = exists(t, res::CUSTOMERS, "Customer", cid)?;
            let contact = new_contact(t, &body::<Value>(req)?)?;
            t.contacts.entry(cid).or_default().push(contact.clone());
            ok(contact)
        }
        (m @ ("POST" | "DELETE"), ["customers", cid, "tags", tag]) => {
            let cid = exists(t, res::CUSTOMERS, "Customer", cid)?;
            let tags = tag_one(t, res::CUSTOMERS, cid, tag, m == "POST")?;
            ok(json!({"customerId": cid, "tagTypeIds": tags}))
        }
        (m @ ("POST" | "DELETE"), ["locations", lid, "tags", tag]) => {
            let lid = exists(t, res::LOCATIONS, "Location", lid)?;
            let tags = tag_one(t, res::LOCATIONS, lid, tag, m == "POST")?;
            ok(json!({"locationId": lid, "tagTypeIds": tags}))
        }
        ("GET", ["booking-provider-tags"]) => {
            list(t.coll(res::BOOKING_PROVIDER_TAGS).values(), req)
        }
        ("GET", ["booking-provider", provider, "bookings"]) => {
            let provider = id(provider)?;
            let rows: Vec<Value> = t
                .coll(res::BOOKINGS)
                .values()
                .filter(|b| b["bookingProviderId"].as_i64() == Some(provider))
                .cloned()
                .collect();
            list(rows.iter(), req)
        }
        ("GET", ["locations"]) => list(t.coll(res::LOCATIONS).values(), req),
        ("POST", ["locations"]) => {
            let b: Value = body(req)?;
            let cid = b.get("customerId").and_then(Value::as_i64).unwrap_or(0);
            if t.get(res::CUSTOMERS, cid).is_none() {
                return Err(Problem::field(
                    "customerId",
                    format!("Customer {cid} does not exist."),
                ));
            }
            insert_location(t, cid, &b).map(|v| (200, v))
        }
        ("GET", ["locations", "custom-fields"]) => list(t.coll(res::LOCATION_FIELDS).values(), req),
        ("GET", ["locations", lid]) => {
            let lid = id(lid)?;
            let reply = get(t, res::LOCATIONS, "Location", lid);
            apply_edits_after_read(t, lid);
            reply
        }
        ("PATCH", ["locations", lid]) => patch(t, res::LOCATIONS, "Location", id(lid)?, req),
        ("GET", ["bookings"]) => list(t.coll(res::BOOKINGS).values(), req),
        ("GET", ["bookings", bid]) => get(t, res::BOOKINGS, "Booking", id(bid)?),
        ("POST", ["booking-provider", provider, "bookings"]) => {
            create_booking(t, id(provider)?, &body::<Value>(req)?)
        }
        ("PATCH", ["booking-provider", provider, "bookings", bid]) => {
            let (provider, bid) = (id(provider)?, id(bid)?);
            let owned = t
                .get(res::BOOKINGS, bid)
                .is_some_and(|b| b["bookingProviderId"].as_i64() == Some(provider));
            if !owned {
                return Err(Problem::not_found("Booking", bid));
            }
            patch(t, res::BOOKINGS, "Booking", bid, req)
        }
        _ => Err(not_served(req)),
    }
}

/// Adds or removes one tag: adding a present tag is a 409, removing an absent one a 404
/// (API.md §16). Returns the record's tags after the call.
fn tag_one(
    t: &mut Tenant,
    coll: &'static str,
    rid: i64,
    tag: &str,
    add: bool,
) -> Result<Vec<i64>, Problem> {
    let tag = id(tag)?;
    if t.get(res::TAG_TYPES, tag).is_none() {
        return Err(Problem::field(
            "tagTypeId",
            format!("Tag type {tag} does not exist."),
        ));
    }
    let rec = t
        .coll(coll)
        .get_mut(&rid)
        .ok_or_else(|| Problem::not_found("Record", rid))?;
    let mut tags: Vec<i64> = int_list(rec.get("tagTypeIds"));
    match (add, tags.contains(&tag)) {
        (true, true) => return Err(Problem::new(409, format!("Tag {tag} is already applied."))),
        (false, false) => return Err(Problem::new(404, format!("Tag {tag} is not applied."))),
        (true, false) => tags.push(tag),
        (false, true) => tags.retain(|x| *x != tag),
    }
    rec["tagTypeIds"] = json!(tags);
    rec["modifiedOn"] = json!(now());
    Ok(tags)
}

/// Applies the contractor edits queued for after a read of this location (a test knob).
pub(crate) fn apply_edits_after_read(t: &mut Tenant, lid: i64) {
    let (now_due, later): (Vec<_>, Vec<_>) = std::mem::take(&mut t.edits_after_read)
        .into_iter()
        .partition(|(l, _, _)| *l == lid);
    t.edits_after_read = later;
    for (_, type_id, value) in now_due {
        let name = t
            .get(res::LOCATION_FIELDS, type_id)
            .map(|f| f["name"].clone());
        let Some(rec) = t.coll(res::LOCATIONS).get_mut(&lid) else {
            continue;
        };
        let mut fields = rec["customFields"].as_array().cloned().unwrap_or_default();
        fields.retain(|f| f["typeId"].as_i64() != Some(type_id));
        fields.push(json!({"typeId": type_id, "name": name, "value": value}));
        rec["customFields"] = Value::Array(fields);
        rec["modifiedOn"] = json!(now());
    }
}

fn exists(t: &Tenant, coll: &'static str, what: &str, seg: &str) -> Result<i64, Problem> {
    let rid = id(seg)?;
    t.get(coll, rid)
        .map(|_| rid)
        .ok_or_else(|| Problem::not_found(what, rid))
}

pub(crate) fn get(t: &Tenant, coll: &'static str, what: &str, rid: i64) -> Reply {
    t.get(coll, rid)
        .filter(|v| v.get(super::export::DELETED).is_none())
        .cloned()
        .map(|v| (200, v))
        .ok_or_else(|| Problem::not_found(what, rid))
}

pub(crate) fn int_list(v: Option<&Value>) -> Vec<i64> {
    v.and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_i64).collect())
        .unwrap_or_default()
}

fn check_tags(t: &Tenant, v: Option<&Value>) -> Result<Vec<i64>, Problem> {
    let tags = int_list(v);
    if let Some(bad) = tags.iter().find(|x| t.get(res::TAG_TYPES, **x).is_none()) {
        return Err(Problem::field(
            "tagTypeIds",
            format!("Tag type {bad} does not exist."),
        ));
    }
    Ok(tags)
}

fn field_types(coll: &'static str) -> &'static str {
    if coll == res::LOCATIONS {
        res::LOCATION_FIELDS
    } else {
        res::CUSTOMER_FIELDS
    }
}

/// PATCH semantics (API.md §4.3): set fields replace, and so do the `customFields` and
/// `tagTypeIds` lists (a field or tag left out is removed); `externalData` follows its
/// `patchMode`; `active` is ignored (the API cannot deactivate records); `id` is kept.
pub(crate) fn patch(
    t: &mut Tenant,
    coll: &'static str,
    what: &str,
    rid: i64,
    req: &Req<'_>,
) -> Reply {
    let b: Map<String, Value> = body(req)?;
    let current = t
        .get(coll, rid)
        .cloned()
        .ok_or_else(|| Problem::not_found(what, rid))?;
    let mut updated = current.clone();
    for (k, v) in b {
        match k.as_str() {
            "id" | "customerId" | "createdOn" | "modifiedOn" | "bookingProviderId" | "active" => {}
            "customFields" => {
                updated[k.as_str()] = replace_custom_fields(t, field_types(coll), &v)?;
            }
            "tagTypeIds" => updated["tagTypeIds"] = json!(check_tags(t, Some(&v))?),
            "externalData" => put_external_data(&mut updated, Some(&v))?,
            _ => updated[k.as_str()] = v,
        }
    }
    updated["modifiedOn"] = json!(now());
    t.coll(coll).insert(rid, updated.clone());
    ok(updated)
}

/// A contact as a create answer carries it (no timestamps, unlike the contact lists).
fn created_contact(c: &Value) -> Value {
    let mut c = c.clone();
    if let Some(o) = c.as_object_mut() {
        o.remove("createdOn");
        o.remove("modifiedOn");
    }
    c
}

fn new_contact(t: &mut Tenant, b: &Value) -> Result<Value, Problem> {
    let kind = b.get("type").and_then(Value::as_str).unwrap_or_default();
    let value = b.get("value").and_then(Value::as_str).unwrap_or_default();
    if kind.is_empty() || value.is_empty() {
        return Err(Problem::field(
            "value",
            "A contact needs a type and a value.",
        ));
    }
    Ok(json!({
        "id": t.new_id(), "type": kind, "value": value,
        "memo": b.get("memo").cloned().unwrap_or(Value::Null),
        "createdOn": now(), "modifiedOn": now(),
    }))
}

fn require_address(b: &Value, field: &str) -> Result<Value, Problem> {
    let addr = b.get("address").cloned().unwrap_or(Value::Null);
    let street = addr
        .get("street")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if street.trim().is_empty() {
        return Err(Problem::field(
            field,
            "An address with a street is required.",
        ));
    }
    Ok(addr)
}

/// Creates a location for customer `cid` from a create body.
pub(crate) fn insert_location(t: &mut Tenant, cid: i64, b: &Value) -> Result<Value, Problem> {
    let address = require_address(b, "Location.Address")?;
    let custom = merge_custom_fields(
        t,
        res::LOCATION_FIELDS,
        None,
        b.get("customFields").unwrap_or(&Value::Null),
    )?;
    let tags = check_tags(t, b.get("tagTypeIds"))?;
    let lid = t.new_id();
    let stamp = now();
    let mut rec = json!({
        "id": lid, "customerId": cid,
        "name": b.get("name").and_then(Value::as_str).unwrap_or("Location"),
        "address": address, "active": true, "customFields": custom, "tagTypeIds": tags,
        "taxExempt": false, "mergedToId": null, "zoneId": null, "taxZoneId": null,
        "createdById": 0, "createdOn": stamp, "modifiedOn": stamp, "_externalData": {},
    });
    put_external_data(&mut rec, b.get("externalData"))?;
    t.coll(res::LOCATIONS).insert(lid, rec.clone());
    let mut contacts = Vec::new();
    for c in b
        .get("contacts")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        contacts.push(new_contact(t, c)?);
    }
    rec["contacts"] = Value::Array(contacts.iter().map(created_contact).collect());
    Ok(rec)
}

/// Creates a customer and its locations from a create body.
pub(crate) fn insert_customer(t: &mut Tenant, b: &Value) -> Result<Value, Problem> {
    let name = b.get("name").and_then(Value::as_str).unwrap_or_default();
    if name.trim().is_empty() {
        return Err(Problem::field("Name", "The Name field is required."));
    }
    let locations = b
        .get("locations")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if locations.is_empty() {
        return Err(Problem::field(
            "Locations",
            "At least one location is required.",
        ));
    }
    for l in &locations {
        require_address(l, "Locations.Address")?;
    }
    let custom = merge_custom_fields(
        t,
        res::CUSTOMER_FIELDS,
        None,
        b.get("customFields").unwrap_or(&Value::Null),
    )?;
    let tags = check_tags(t, b.get("tagTypeIds"))?;
    let mut contacts = Vec::new();
    for c in b
        .get("contacts")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        contacts.push(new_contact(t, c)?);
    }
    let cid = t.new_id();
    let stamp = now();
    let flag = |f: &str| b.get(f).and_then(Value::as_bool).unwrap_or(false);
    let mut rec = json!({
        "id": cid, "active": true, "name": name,
        "type": b.get("type").and_then(Value::as_str).unwrap_or("Residential"),
        "address": b.get("address").cloned().unwrap_or(Value::Null),
        "balance": 0.0, "taxExempt": flag("taxExempt"), "nationalAccount": flag("nationalAccount"),
        "doNotMail": flag("doNotMail"), "doNotService": flag("doNotService"),
        "customFields": custom, "tagTypeIds": tags, "mergedToId": null,
        "createdById": 0, "createdOn": stamp, "modifiedOn": stamp, "_externalData": {},
    });
    put_external_data(&mut rec, b.get("externalData"))?;
    t.coll(res::CUSTOMERS).insert(cid, rec.clone());
    t.contacts.insert(cid, contacts.clone());
    // `CreatedCustomerResponse`: the customer with its new locations and contacts, with IDs.
    let mut created_locations = Vec::new();
    for l in &locations {
        created_locations.push(insert_location(t, cid, l)?);
    }
    rec["locations"] = Value::Array(created_locations);
    rec["contacts"] = Value::Array(contacts.iter().map(created_contact).collect());
    Ok(rec)
}

fn create_booking(t: &mut Tenant, provider: i64, b: &Value) -> Reply {
    let name = b.get("name").and_then(Value::as_str).unwrap_or_default();
    if name.trim().is_empty() {
        return Err(Problem::field("Name", "The Name field is required."));
    }
    let external_id = b
        .get("externalId")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if external_id.is_empty() {
        return Err(Problem::field(
            "ExternalId",
            "The ExternalId field is required.",
        ));
    }
    // ServiceTitan does not enforce a unique externalId (API.md §16): a repeated create makes a
    // second booking. The client looks its booking up by externalId before creating.
    for field in ["source", "summary"] {
        if b.get(field).and_then(Value::as_str).is_none() {
            return Err(Problem::field(
                field,
                format!("The {field} field is required."),
            ));
        }
    }
    if !b.get("isFirstTimeClient").is_some_and(Value::is_boolean) {
        return Err(Problem::field(
            "isFirstTimeClient",
            "The isFirstTimeClient field is required.",
        ));
    }
    if t.get(res::BOOKING_PROVIDER_TAGS, provider).is_none() {
        return Err(Problem::new(
            404,
            format!("Booking provider {provider} was not found."),
        ));
    }
    for (field, coll) in [
        ("campaignId", res::CAMPAIGNS),
        ("businessUnitId", res::BUSINESS_UNITS),
        ("jobTypeId", res::JOB_TYPES),
    ] {
        if let Some(v) = b.get(field).and_then(Value::as_i64)
            && !t.active(coll, v)
        {
            return Err(Problem::field(
                field,
                format!("{field} {v} does not exist or is inactive."),
            ));
        }
    }
    let bid = t.new_id();
    let stamp = now();
    let mut rec = b.clone();
    // A booking without a requested start starts now (`start` is required in the answer).
    if rec.get("start").is_none_or(Value::is_null) {
        rec["start"] = json!(stamp);
    }
    if let Some(obj) = rec.as_object_mut() {
        // Request-only fields are not part of `BookingResponse`.
        for k in ["isSendConfirmationEmail", "contacts"] {
            if let Some(v) = obj.remove(k) {
                obj.insert(format!("_{k}"), v);
            }
        }
        for (k, v) in [
            ("id", json!(bid)),
            ("bookingProviderId", json!(provider)),
            ("status", json!("New")),
            ("jobId", Value::Null),
            ("dismissingReasonId", Value::Null),
            ("createdOn", json!(stamp)),
            ("modifiedOn", json!(stamp)),
        ] {
            obj.insert(k.to_owned(), v);
        }
    }
    t.coll(res::BOOKINGS).insert(bid, rec.clone());
    ok(rec)
}
