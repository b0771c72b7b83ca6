//! List semantics: ServiceTitan's filters, sort, and the paged envelope over JSON records.
use std::collections::HashMap;

use serde_json::{Value, json};

use super::tenant::ts;

/// Default and maximum page sizes (API.md §2).
const DEFAULT_PAGE_SIZE: usize = 50;
const MAX_PAGE_SIZE: usize = 5000;

/// Query parameters that filter by equality on the field of the same name.
const EQUALITY_FILTERS: &[&str] = &[
    "customerId",
    "locationId",
    "jobStatus",
    "businessUnitId",
    "jobTypeId",
    "membershipTypeId",
    "status",
    "externalId",
    "bookingProviderId",
];

/// A time filter: (parameter, record field, true when the record must be at or after).
const TIME_FILTERS: &[(&str, &str, bool)] = &[
    ("modifiedOnOrAfter", "modifiedOn", true),
    ("modifiedBefore", "modifiedOn", false),
    ("createdOnOrAfter", "createdOn", true),
    ("createdBefore", "createdOn", false),
];

/// A parsed set of filters.
pub(crate) struct Filter<'a> {
    q: &'a HashMap<String, String>,
    ids: Option<Vec<i64>>,
    times: Vec<(&'static str, String, bool)>,
    active: Option<bool>,
    /// Equality filters present in the query: (parameter, wanted value).
    equals: Vec<(&'static str, &'a str)>,
    tags: Option<Vec<i64>>,
    external: bool,
    customer_ids: Option<Vec<i64>>,
}

/// A comma list of IDs; more than 50 is a 400, as in ServiceTitan (API.md §2.1).
fn id_list(q: &HashMap<String, String>, name: &str) -> Result<Option<Vec<i64>>, String> {
    let Some(s) = q.get(name).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let ids = s
        .split(',')
        .map(|p| p.trim().parse::<i64>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| name.to_owned())?;
    if ids.len() > 50 {
        return Err(name.to_owned());
    }
    Ok(Some(ids))
}

fn scalar_eq(v: &Value, want: &str) -> bool {
    match v {
        Value::String(s) => s.eq_ignore_ascii_case(want),
        Value::Number(n) => n.to_string() == want,
        Value::Bool(b) => b.to_string().eq_ignore_ascii_case(want),
        Value::Object(o) => o.get("id").is_some_and(|id| scalar_eq(id, want)),
        _ => false,
    }
}

impl<'a> Filter<'a> {
    /// Parses the query; `Err` names a parameter that could not be read.
    pub(crate) fn parse(q: &'a HashMap<String, String>) -> Result<Self, String> {
        let ids = id_list(q, "ids")?;
        let customer_ids = id_list(q, "customerIds")?;
        let mut times = Vec::new();
        for (param, field, after) in TIME_FILTERS {
            if let Some(raw) = q.get(*param) {
                let t = crate::servicetitan::models::ts::parse(raw).ok_or((*param).to_owned())?;
                times.push((*field, ts(t), *after));
            }
        }
        let active = match q.get("active").map(|s| s.to_ascii_lowercase()).as_deref() {
            None | Some("true") => Some(true),
            Some("false") => Some(false),
            Some("any") => None,
            Some(_) => return Err("active".to_owned()),
        };
        let equals = EQUALITY_FILTERS
            .iter()
            .chain(&["jobId"])
            .filter_map(|name| q.get(*name).map(|v| (*name, v.as_str())))
            .collect();
        let tags = q.get("tagTypeIds").map(|t| {
            t.split(',')
                .filter_map(|x| x.trim().parse::<i64>().ok())
                .collect()
        });
        let external = [
            "externalDataApplicationGuid",
            "externalDataKey",
            "externalDataValues",
        ]
        .iter()
        .any(|k| q.contains_key(*k));
        Ok(Self {
            q,
            ids,
            times,
            active,
            equals,
            tags,
            external,
            customer_ids,
        })
    }

    /// Whether a record passes every filter.
    pub(crate) fn matches(&self, v: &Value) -> bool {
        if let Some(ids) = &self.ids
            && !ids.contains(&super::tenant::id_of(v))
        {
            return false;
        }
        if let Some(ids) = &self.customer_ids
            && !v
                .get("customerId")
                .and_then(Value::as_i64)
                .is_some_and(|c| ids.contains(&c))
        {
            return false;
        }
        if let (Some(want), Some(is)) = (self.active, v.get("active").and_then(Value::as_bool))
            && want != is
        {
            return false;
        }
        for (field, bound, after) in &self.times {
            let Some(at) = v.get(*field).and_then(Value::as_str) else {
                return false;
            };
            if (*after && at < bound.as_str()) || (!*after && at >= bound.as_str()) {
                return false;
            }
        }
        for (name, want) in &self.equals {
            let alt = match *name {
                "customerId" => "customer",
                "locationId" => "location",
                "jobId" => "job",
                _ => "",
            };
            let field = v.get(*name).or_else(|| v.get(alt));
            if !field.is_some_and(|f| scalar_eq(f, want)) {
                return false;
            }
        }
        if let Some(tags) = &self.tags {
            let has = v.get("tagTypeIds").and_then(Value::as_array);
            if !has.is_some_and(|h| {
                h.iter()
                    .filter_map(Value::as_i64)
                    .any(|x| tags.contains(&x))
            }) {
                return false;
            }
        }
        if !self.external {
            return true;
        }
        self.external_data_matches(v)
    }

    /// `externalDataKey` + `externalDataValues` match the entries stored under the requested
    /// GUID only; `externalDataApplicationGuid` alone does not filter (it selects which entries a
    /// response carries).
    fn external_data_matches(&self, v: &Value) -> bool {
        let guid = self.q.get("externalDataApplicationGuid");
        let key = self.q.get("externalDataKey");
        let values = self.q.get("externalDataValues");
        if key.is_none() && values.is_none() {
            return true;
        }
        let Some(guid) = guid else {
            return false;
        };
        let wanted: Option<Vec<&str>> = values.map(|s| s.split(',').map(str::trim).collect());
        v.get(super::routes::EXTERNAL)
            .and_then(|store| store.get(guid.to_ascii_lowercase()))
            .and_then(Value::as_array)
            .is_some_and(|items| {
                items.iter().any(|i| {
                    let k = i.get("key").and_then(Value::as_str).unwrap_or_default();
                    let val = i.get("value").and_then(Value::as_str).unwrap_or_default();
                    key.is_none_or(|want| want == k)
                        && wanted.as_ref().is_none_or(|w| w.contains(&val))
                })
            })
    }
}

pub(crate) fn paging(q: &HashMap<String, String>) -> (usize, usize) {
    let page = q
        .get("page")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(1)
        .max(1);
    let size = q
        .get("pageSize")
        .and_then(|p| p.parse::<usize>().ok())
        .unwrap_or(DEFAULT_PAGE_SIZE)
        .clamp(1, MAX_PAGE_SIZE);
    (page, size)
}

/// Filters, sorts and pages `records` into ServiceTitan's envelope.
pub(crate) fn envelope<'v>(
    records: impl Iterator<Item = &'v Value>,
    q: &HashMap<String, String>,
) -> Result<Value, String> {
    let filter = Filter::parse(q)?;
    let (page, size) = paging(q);
    let include_total = q
        .get("includeTotal")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let sort = q.get("sort").map(String::as_str).unwrap_or("");
    let matching = records.filter(|v| filter.matches(v));
    let skip = (page - 1) * size;
    let (data, has_more, total) =
        if !include_total && (sort.is_empty() || sort.eq_ignore_ascii_case("+id")) {
            // Records come in ID order: stream, never materialise the whole set.
            let mut it = matching;
            let data: Vec<Value> = it.by_ref().skip(skip).take(size).cloned().collect();
            let more = it.next().is_some();
            (data, more, None)
        } else {
            let mut all: Vec<&Value> = matching.collect();
            if !sort.is_empty() {
                sort_records(&mut all, sort);
            }
            let total = all.len();
            let data: Vec<Value> = all
                .iter()
                .skip(skip)
                .take(size)
                .map(|v| (*v).clone())
                .collect();
            let more = skip + data.len() < total;
            (data, more, include_total.then_some(total))
        };
    Ok(json!({
        "page": page,
        "pageSize": size,
        "hasMore": has_more,
        "totalCount": total,
        "data": data,
    }))
}

fn sort_records(all: &mut [&Value], sort: &str) {
    let (desc, field) = match sort.chars().next() {
        Some('-') => (true, &sort[1..]),
        Some('+') => (false, &sort[1..]),
        _ => (false, sort),
    };
    let mut chars = field.chars();
    let key: String = match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => "id".to_owned(),
    };
    all.sort_by(|a, b| {
        let (x, y) = (a.get(&key), b.get(&key));
        let ord = match (x.and_then(Value::as_i64), y.and_then(Value::as_i64)) {
            (Some(x), Some(y)) => x.cmp(&y),
            _ => {
                let sx = x.map(Value::to_string).unwrap_or_default();
                let sy = y.map(Value::to_string).unwrap_or_default();
                sx.cmp(&sy)
            }
        }
        .then_with(|| super::tenant::id_of(a).cmp(&super::tenant::id_of(b)));
        if desc { ord.reverse() } else { ord }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn pages_cover_everything_once() {
        let rows: Vec<Value> = (1..=25).map(|i| json!({"id": i})).collect();
        let mut seen = Vec::new();
        for page in 1..=3 {
            let env = envelope(
                rows.iter(),
                &q(&[("page", &page.to_string()), ("pageSize", "10")]),
            )
            .unwrap_or_else(|e| panic!("{e}"));
            seen.extend(
                env["data"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|v| v["id"].clone()),
            );
            assert_eq!(env["hasMore"], json!(page < 3));
        }
        assert_eq!(seen.len(), 25);
    }

    #[test]
    fn filters_apply() {
        let rows = [
            json!({"id": 1, "active": true, "customerId": 7, "modifiedOn": "2024-01-01T00:00:00.000000Z",
                   "_externalData": {"g": [{"key": "k", "value": "v1"}]}}),
            json!({"id": 2, "active": false, "customerId": 8, "modifiedOn": "2024-02-01T00:00:00.000000Z"}),
        ];
        let count = |pairs: &[(&str, &str)]| {
            envelope(rows.iter(), &q(pairs)).unwrap_or_else(|e| panic!("{e}"))["data"]
                .as_array()
                .map_or(0, Vec::len)
        };
        assert_eq!(count(&[]), 1, "active defaults to true");
        assert_eq!(count(&[("active", "Any")]), 2);
        assert_eq!(count(&[("active", "Any"), ("customerId", "8")]), 1);
        assert_eq!(
            count(&[
                ("active", "Any"),
                ("modifiedOnOrAfter", "2024-01-15T00:00:00Z")
            ]),
            1
        );
        assert_eq!(
            count(&[
                ("externalDataApplicationGuid", "g"),
                ("externalDataKey", "k"),
                ("externalDataValues", "v0,v1")
            ]),
            1
        );
        assert_eq!(
            count(&[("externalDataKey", "k"), ("externalDataValues", "nope")]),
            0
        );
        // Another application's GUID sees none of our entries.
        assert_eq!(
            count(&[
                ("externalDataApplicationGuid", "other"),
                ("externalDataKey", "k"),
                ("externalDataValues", "v1")
            ]),
            0
        );
        let many: Vec<String> = (1..=51).map(|i| i.to_string()).collect();
        assert!(
            envelope(rows.iter(), &q(&[("ids", &many.join(","))])).is_err(),
            "more than 50 ids is a 400"
        );
        assert!(envelope(rows.iter(), &q(&[("modifiedOnOrAfter", "soon")])).is_err());
    }
}
