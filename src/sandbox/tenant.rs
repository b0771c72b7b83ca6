//! One simulated tenant's records, held as ServiceTitan-shaped JSON objects.
use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

/// Records of one resource by ID (ordered, so paging is stable).
pub(crate) type Coll = BTreeMap<i64, Value>;

/// Resource names used as collection keys.
pub(crate) mod res {
    pub const BUSINESS_UNITS: &str = "business-units";
    pub const JOB_TYPES: &str = "job-types";
    pub const TAG_TYPES: &str = "tag-types";
    pub const TECHNICIANS: &str = "technicians";
    pub const MEMBERSHIP_TYPES: &str = "membership-types";
    pub const CUSTOMER_FIELDS: &str = "customer-custom-fields";
    pub const LOCATION_FIELDS: &str = "location-custom-fields";
    pub const JOB_FIELDS: &str = "job-custom-fields";
    pub const SERVICES: &str = "services";
    pub const CAMPAIGNS: &str = "campaigns";
    pub const ARRIVAL_WINDOWS: &str = "arrival-windows";
    pub const CUSTOMERS: &str = "customers";
    pub const LOCATIONS: &str = "locations";
    pub const BOOKINGS: &str = "bookings";
    pub const JOBS: &str = "jobs";
    pub const APPOINTMENTS: &str = "appointments";
    pub const MEMBERSHIPS: &str = "memberships";
    pub const INVOICES: &str = "invoices";
    pub const BOOKING_PROVIDER_TAGS: &str = "booking-provider-tags";
    /// The transactional records a contractor can delete.
    pub const ALL_RECORDS: [&str; 7] = [
        CUSTOMERS,
        LOCATIONS,
        BOOKINGS,
        JOBS,
        APPOINTMENTS,
        MEMBERSHIPS,
        INVOICES,
    ];
}

/// Formats a time the way the sandbox stores it: fixed width, so string order is time order.
pub(crate) fn ts(t: DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// The current time as a stored timestamp.
pub(crate) fn now() -> String {
    ts(Utc::now())
}

/// ServiceTitan's export visibility delay (API.md §2.2).
pub(crate) const DEFAULT_EXPORT_DELAY: std::time::Duration =
    std::time::Duration::from_secs(15 * 60);

const SEED_TIME: &str = "2024-01-15T12:00:00.000000Z";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Seed {
    business_units: Vec<Value>,
    capacity_per_window: HashMap<String, i64>,
    job_types: Vec<Value>,
    tag_types: Vec<Value>,
    customer_custom_fields: Vec<Value>,
    location_custom_fields: Vec<Value>,
    technicians: Vec<Value>,
    membership_types: Vec<Value>,
    pricebook_services: Vec<Value>,
    materials: Vec<Value>,
    campaigns: Vec<Value>,
    arrival_windows: Vec<Value>,
    customers: Vec<Value>,
    booking_provider_tags: Vec<Value>,
    utc_offset_minutes: i32,
}

/// Fields every record of a reference collection carries in ServiceTitan's responses, with the
/// values a seed row gets when it does not say (the seed keeps only what tests look at).
pub(crate) fn defaults(name: &str) -> Value {
    match name {
        res::JOB_TYPES => json!({
            "skills": [], "tagTypeIds": [], "priority": "Normal", "duration": 3600,
            "class": "Service", "summary": "", "noCharge": false,
            "invoiceSignaturesRequired": false, "isSmartDispatched": false,
            "defaultEstimateSoldAction": "None", "customFieldTypeIds": [], "soldThreshold": null,
            "_externalData": {},
        }),
        res::SERVICES => json!({
            "addOnPrice": 0.0, "addOnMemberPrice": 0.0, "taxable": false, "hours": 1.0,
            "recommendations": [], "upgrades": [], "assets": [], "serviceMaterials": [],
            "serviceEquipment": [], "paysCommission": false, "bonus": 0.0,
            "commissionBonus": 0.0, "cost": 0.0, "soldByCommission": 0.0,
            "businessUnitId": null, "_externalData": {},
        }),
        res::MEMBERSHIP_TYPES => json!({
            "displayName": null, "revenueRecognitionMode": "PointOfSale",
            "autoCalculateInvoiceTemplates": false, "useMembershipPricingTable": false,
            "showMembershipSavings": false, "discount": 0.0, "durationBilling": null,
            "discounts": null, "recurringServices": null, "tagTypeIds": null,
        }),
        res::TAG_TYPES => json!({
            "importance": null, "isConversionOpportunity": false,
            "allowToUseOnTimesheetActivity": false, "isVisibleOnDispatchBoard": true,
        }),
        res::BUSINESS_UNITS => json!({ "tagTypeIds": [], "_externalData": {} }),
        _ => json!({}),
    }
}

/// Fills in [`defaults`] a row does not set, and nested `active` flags of categories.
pub(crate) fn complete(name: &str, row: &mut Value) {
    let Some(obj) = row.as_object_mut() else {
        return;
    };
    if let Value::Object(d) = defaults(name) {
        for (k, v) in d {
            obj.entry(k).or_insert(v);
        }
    }
    for nested in ["categories", "category"] {
        match obj.get_mut(nested) {
            Some(Value::Array(items)) => {
                for i in items.iter_mut().filter_map(Value::as_object_mut) {
                    i.entry("active").or_insert(json!(true));
                }
            }
            Some(Value::Object(o)) => {
                o.entry("active").or_insert(json!(true));
            }
            _ => {}
        }
    }
}

/// The seed file every new tenant starts from.
const SEED: &str = include_str!("seed/tenant.json");

/// A tenant's state.
pub(crate) struct Tenant {
    next_id: i64,
    pub(crate) colls: HashMap<&'static str, Coll>,
    /// Contacts by customer ID.
    pub(crate) contacts: BTreeMap<i64, Vec<Value>>,
    /// Notes by job ID (notes have no ID).
    pub(crate) notes: BTreeMap<i64, Vec<Value>>,
    /// Capacity per arrival window per day, by business unit.
    pub(crate) capacity: HashMap<i64, i64>,
    /// The tenant's time zone as a fixed offset from UTC (capacity speaks its wall clock).
    pub(crate) utc_offset_minutes: i32,
    /// How long a change stays invisible to exports without `includeRecentChanges`.
    pub(crate) export_delay: std::time::Duration,
    /// Contractor edits to apply right after the next read of a location (location ID, field
    /// type ID, value): an edit landing between a client's read and its write.
    pub(crate) edits_after_read: Vec<(i64, i64, String)>,
    /// Material SKUs for generated invoices.
    pub(crate) materials: Vec<Value>,
    /// Calls served (after auth and rate limit).
    pub(crate) calls: u64,
    /// Calls refused with 429 by the rate limiter.
    pub(crate) rate_limited: u64,
    /// Calls served by `METHOD /module/path-pattern`.
    pub(crate) calls_by_endpoint: BTreeMap<String, u64>,
}

/// The `id` of a record.
pub(crate) fn id_of(v: &Value) -> i64 {
    v.get("id").and_then(Value::as_i64).unwrap_or_default()
}

impl Tenant {
    /// A tenant seeded from `seed/tenant.json`.
    pub(crate) fn seeded() -> Self {
        let seed: Seed = match serde_json::from_str(SEED) {
            Ok(s) => s,
            Err(e) => panic!("sandbox seed/tenant.json is invalid: {e}"),
        };
        let mut t = Self {
            next_id: 100_000,
            colls: HashMap::new(),
            contacts: BTreeMap::new(),
            notes: BTreeMap::new(),
            capacity: seed
                .capacity_per_window
                .iter()
                .filter_map(|(k, v)| k.parse().ok().map(|k| (k, *v)))
                .collect(),
            materials: seed.materials,
            utc_offset_minutes: seed.utc_offset_minutes,
            export_delay: DEFAULT_EXPORT_DELAY,
            edits_after_read: Vec::new(),
            calls: 0,
            rate_limited: 0,
            calls_by_endpoint: BTreeMap::new(),
        };
        for (name, rows) in [
            (res::BUSINESS_UNITS, seed.business_units),
            (res::JOB_TYPES, seed.job_types),
            (res::TAG_TYPES, seed.tag_types),
            (res::CUSTOMER_FIELDS, seed.customer_custom_fields),
            (res::LOCATION_FIELDS, seed.location_custom_fields),
            (res::TECHNICIANS, seed.technicians),
            (res::MEMBERSHIP_TYPES, seed.membership_types),
            (res::SERVICES, seed.pricebook_services),
            (res::CAMPAIGNS, seed.campaigns),
            (res::ARRIVAL_WINDOWS, seed.arrival_windows),
            (res::BOOKING_PROVIDER_TAGS, seed.booking_provider_tags),
        ] {
            let coll = t.colls.entry(name).or_default();
            for mut row in rows {
                if let Some(obj) = row.as_object_mut() {
                    obj.entry("createdOn").or_insert(json!(SEED_TIME));
                    obj.entry("modifiedOn").or_insert(json!(SEED_TIME));
                }
                complete(name, &mut row);
                coll.insert(id_of(&row), row);
            }
        }
        for c in seed.customers {
            // The seed's customers are valid by construction; a failure here is a seed bug.
            if let Err(p) = super::routes::crm::insert_customer(&mut t, &c) {
                panic!("sandbox seed customer rejected: {}", p.title);
            }
        }
        t
    }

    /// A fresh record ID.
    pub(crate) fn new_id(&mut self) -> i64 {
        self.next_id += 1;
        self.next_id
    }

    /// A collection (created empty on first use).
    pub(crate) fn coll(&mut self, name: &'static str) -> &mut Coll {
        self.colls.entry(name).or_default()
    }

    /// A collection for reading.
    pub(crate) fn read(&self, name: &'static str) -> Option<&Coll> {
        self.colls.get(name)
    }

    /// One record.
    pub(crate) fn get(&self, name: &'static str, id: i64) -> Option<&Value> {
        self.colls.get(name).and_then(|c| c.get(&id))
    }

    /// Whether an active record with that ID exists.
    pub(crate) fn active(&self, name: &'static str, id: i64) -> bool {
        self.get(name, id)
            .is_some_and(|v| v.get("active").and_then(Value::as_bool).unwrap_or(true))
    }
}
