//! The simulated API: one dispatcher from (method, module, path) to handlers on a tenant.
use std::collections::{BTreeMap, HashMap};

use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};

use super::query;
use super::tenant::Tenant;

pub(crate) mod capacity;
pub(crate) mod crm;
pub(crate) mod export;
pub(crate) mod jpm;
pub(crate) mod reference;

/// An API request below `/{module}/v2/tenant/{tenant}`.
pub(crate) struct Req<'a> {
    pub(crate) method: &'a str,
    pub(crate) module: &'a str,
    pub(crate) segs: Vec<&'a str>,
    pub(crate) query: HashMap<String, String>,
    pub(crate) body: &'a [u8],
}

/// An RFC 7807-style error body.
#[derive(Debug)]
pub(crate) struct Problem {
    pub(crate) status: u16,
    pub(crate) title: String,
    pub(crate) errors: BTreeMap<String, Vec<String>>,
}

impl Problem {
    pub(crate) fn new(status: u16, title: impl Into<String>) -> Self {
        Self {
            status,
            title: title.into(),
            errors: BTreeMap::new(),
        }
    }

    /// A 400 validation error on one field.
    pub(crate) fn field(field: &str, msg: impl Into<String>) -> Self {
        let mut p = Self::new(400, "One or more validation errors occurred.");
        p.errors.insert(field.to_owned(), vec![msg.into()]);
        p
    }

    pub(crate) fn not_found(what: &str, id: i64) -> Self {
        Self::new(404, format!("{what} with id {id} was not found"))
    }

    /// The JSON body.
    pub(crate) fn body(&self) -> Value {
        json!({
            "type": format!("https://httpstatuses.io/{}", self.status),
            "title": self.title,
            "status": self.status,
            "traceId": uuid::Uuid::new_v4().simple().to_string(),
            "errors": self.errors,
            "data": {},
        })
    }
}

/// Status and JSON body of a success.
pub(crate) type Reply = Result<(u16, Value), Problem>;

pub(crate) fn ok(v: Value) -> Reply {
    Ok((200, v))
}

/// Parses the JSON body into `T`, or a 400 naming what is wrong.
pub(crate) fn body<T: DeserializeOwned>(req: &Req<'_>) -> Result<T, Problem> {
    serde_json::from_slice(req.body)
        .map_err(|e| Problem::field("body", format!("The request body is invalid: {e}")))
}

/// Parses a path segment as an ID.
pub(crate) fn id(seg: &str) -> Result<i64, Problem> {
    seg.parse()
        .map_err(|_| Problem::new(404, format!("'{seg}' is not a valid id")))
}

/// Lists a collection (or any records) through the shared filter/paging rules.
/// Records deleted in ServiceTitan are left out (only exports show them).
pub(crate) fn list<'v>(records: impl Iterator<Item = &'v Value>, req: &Req<'_>) -> Reply {
    let live = records.filter(|v| v.get(export::DELETED).is_none());
    query::envelope(live, &req.query)
        .map(|v| (200, v))
        .map_err(|param| Problem::field(&param, format!("The value of '{param}' is not valid.")))
}

/// A name for call counting: IDs replaced by `{id}`.
pub(crate) fn endpoint_name(req: &Req<'_>) -> String {
    let path: Vec<&str> = req
        .segs
        .iter()
        .map(|s| {
            if s.chars().all(|c| c.is_ascii_digit()) {
                "{id}"
            } else {
                s
            }
        })
        .collect();
    format!("{} /{}/{}", req.method, req.module, path.join("/"))
}

/// The API modules the sandbox serves (each a scope an app can be granted or refused).
pub(crate) const MODULES: [&str; 8] = [
    "crm",
    "jpm",
    "settings",
    "memberships",
    "dispatch",
    "pricebook",
    "accounting",
    "marketing",
];

/// Routes one request.
pub(crate) fn dispatch(t: &mut Tenant, req: &Req<'_>) -> Reply {
    if let ("GET", ["export", feed @ ..]) = (req.method, req.segs.as_slice()) {
        return export::route(t, req, &feed.join("/"));
    }
    match req.module {
        "crm" => crm::route(t, req),
        "jpm" => jpm::route(t, req),
        "settings" | "memberships" | "dispatch" | "pricebook" | "accounting" | "marketing" => {
            reference::route(t, req)
        }
        _ => Err(not_served(req)),
    }
}

/// The 404 for a path the sandbox does not serve.
pub(crate) fn not_served(req: &Req<'_>) -> Problem {
    Problem::new(
        404,
        format!(
            "The sandbox does not serve {} /{}/v2/tenant/{{tenant}}/{}",
            req.method,
            req.module,
            req.segs.join("/")
        ),
    )
}

/// Where a record keeps its `externalData`: per application GUID, as ServiceTitan does (keys
/// starting with `_` are internal and never served).
pub(crate) const EXTERNAL: &str = "_externalData";

/// Stores a request's `externalData` (`{applicationGuid, externalData:[{key,value}]}`, plus
/// `patchMode` on updates: `Replace`, the default, replaces that GUID's entries; `Merge` changes
/// the keys given and deletes a key sent with `value: null`).
pub(crate) fn put_external_data(rec: &mut Value, incoming: Option<&Value>) -> Result<(), Problem> {
    let Some(incoming) = incoming.filter(|v| !v.is_null()) else {
        return Ok(());
    };
    let guid = incoming
        .get("applicationGuid")
        .and_then(Value::as_str)
        .filter(|g| !g.is_empty())
        .ok_or_else(|| {
            Problem::field(
                "ExternalData.ApplicationGuid",
                "The ApplicationGuid field is required.",
            )
        })?
        .to_ascii_lowercase();
    let merge = incoming.get("patchMode").and_then(Value::as_str) == Some("Merge");
    let Some(obj) = rec.as_object_mut() else {
        return Ok(());
    };
    let store = obj.entry(EXTERNAL).or_insert_with(|| json!({}));
    let mut entries: Vec<Value> = if merge {
        store
            .get(&guid)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    } else {
        Vec::new()
    };
    for item in incoming
        .get("externalData")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let key = item.get("key").and_then(Value::as_str).unwrap_or_default();
        entries.retain(|e| e["key"] != json!(key));
        if let Some(value) = item.get("value").and_then(Value::as_str) {
            entries.push(json!({"key": key, "value": value}));
        }
    }
    store[guid.as_str()] = Value::Array(entries);
    Ok(())
}

/// Which application GUID's `externalData` a response carries.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Guid<'a> {
    /// The GUID the request named (none: every record carries an empty list).
    Named(Option<&'a str>),
    /// Every GUID's entries (the inspection snapshot).
    All,
}

/// A record as ServiceTitan serves it: `externalData` as the `[{key, value}]` list of the
/// requested GUID, and no internal (`_`) fields. Applies to nested records too (created
/// customers' locations, paged `data`).
pub(crate) fn present(v: &Value, guid: Guid<'_>) -> Value {
    match v {
        Value::Array(items) => Value::Array(items.iter().map(|i| present(i, guid)).collect()),
        Value::Object(obj) => {
            let mut out = Map::new();
            for (k, val) in obj {
                if k == EXTERNAL {
                    continue;
                }
                if k.starts_with('_') {
                    continue;
                }
                out.insert(k.clone(), present(val, guid));
            }
            if let Some(store) = obj.get(EXTERNAL).and_then(Value::as_object) {
                let entries: Vec<Value> = match guid {
                    Guid::Named(Some(g)) => store
                        .get(&g.to_ascii_lowercase())
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default(),
                    Guid::Named(None) => Vec::new(),
                    Guid::All => store
                        .values()
                        .filter_map(Value::as_array)
                        .flatten()
                        .cloned()
                        .collect(),
                };
                out.insert("externalData".into(), Value::Array(entries));
            }
            Value::Object(out)
        }
        other => other.clone(),
    }
}

/// The full-list replacement of `customFields` (PATCH semantics, API.md §4.3 and §5.4): the
/// list sent becomes the record's list, a field left out loses its value. Names come from the
/// field types; an unknown type is a 400.
pub(crate) fn replace_custom_fields(
    t: &Tenant,
    types: &'static str,
    incoming: &Value,
) -> Result<Value, Problem> {
    merge_custom_fields(t, types, None, incoming)
}

/// Merges `customFields` by `typeId` into `current` (used on create, where there is nothing to
/// replace), filling in names from the field types.
pub(crate) fn merge_custom_fields(
    t: &Tenant,
    types: &'static str,
    current: Option<&Value>,
    incoming: &Value,
) -> Result<Value, Problem> {
    let mut out: Vec<Value> = current
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for item in incoming.as_array().into_iter().flatten() {
        let type_id = item.get("typeId").and_then(Value::as_i64).unwrap_or(0);
        let Some(ty) = t.get(types, type_id) else {
            return Err(Problem::field(
                "customFields",
                format!("Custom field type {type_id} does not exist."),
            ));
        };
        let value = match item.get("value") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        };
        let entry = json!({"typeId": type_id, "name": ty["name"], "value": value});
        match out
            .iter_mut()
            .find(|v| v.get("typeId").and_then(Value::as_i64) == Some(type_id))
        {
            Some(slot) => *slot = entry,
            None => out.push(entry),
        }
    }
    Ok(Value::Array(out))
}
