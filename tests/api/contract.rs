//! The client against the official ServiceTitan OpenAPI documents (`src/contract`):
//! every endpoint it calls exists, every response model decodes what the spec says the server
//! sends, and every request body it sends validates. Each test reports all its failures at once.
//! Skipped, with a message, when the spec files are absent.
use chrono::{TimeZone, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use titanbridge::contract::{Fill, Operation, Specs, tally};
use titanbridge::servicetitan::paths::{
    ACCOUNTING, CRM, DISPATCH, ENDPOINTS, JPM, MARKETING, MEMBERSHIPS, PRICEBOOK, SETTINGS,
};
use titanbridge::servicetitan::*;

fn specs() -> Option<&'static Specs> {
    let specs = Specs::global();
    if specs.is_none() {
        eprintln!(
            "skipped: the ServiceTitan OpenAPI specs were not found (set {})",
            titanbridge::contract::OPENAPI_DIR_ENV
        );
    }
    specs
}

fn op<'a>(specs: &'a Specs, method: &str, module: &str, template: &str) -> Operation<'a> {
    specs
        .operation_by_template(method, module, template)
        .unwrap_or_else(|| panic!("{method} {module} {template} is not in the spec"))
}

#[test]
fn every_endpoint_the_client_calls_is_in_the_specs() {
    let Some(specs) = specs() else { return };
    let missing: Vec<String> = ENDPOINTS
        .iter()
        .filter(|(method, module, template)| {
            specs
                .operation_by_template(method, module, template)
                .is_none()
        })
        .map(|(method, module, template)| format!("{method} /{module}/v2/tenant/{{t}}{template}"))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} client endpoints are not in the official specs:\n{}",
        missing.len(),
        ENDPOINTS.len(),
        missing.join("\n")
    );
    // the table is not stale either: each entry is matched by a concrete path too
    for (method, module, template) in ENDPOINTS {
        let concrete = template
            .split('/')
            .map(|s| if s.starts_with('{') { "7" } else { s })
            .collect::<Vec<_>>()
            .join("/");
        let found = specs.operation(method, module, &concrete).unwrap();
        assert_eq!(
            found.id(),
            op(specs, method, module, template).id(),
            "{concrete}"
        );
    }
}

/// `(module, template, query pairs)`.
type ListFilters = (
    &'static str,
    &'static str,
    Vec<(&'static str, &'static str)>,
);

/// The query parameters the application sends per list endpoint, beyond `page` and `pageSize`
/// (`ListQuery::for_page` adds those to every call). Gathered from the `ListQuery` builders in
/// `src/sync`, `src/booking`, `src/tenant_lists.rs`; values in the client's own spelling.
fn list_filters() -> Vec<ListFilters> {
    const SINCE: &str = "2026-05-04T10:00:00.000Z";
    const GUID: &str = "4a0a2e52-9a0b-4c55-8a34-6a9b1e0f5d21";
    let external = [
        ("externalDataApplicationGuid", GUID),
        ("externalDataKey", "homeId"),
        ("externalDataValues", "home-1,home-2"),
    ];
    let polled = [
        ("modifiedOnOrAfter", SINCE),
        ("includeTotal", "true"),
        ("sort", "+ModifiedOn"),
    ];
    let ids = ("ids", "1,2,3");
    let mut customers = external.to_vec();
    customers.push(("name", "Ada Lovelace"));
    let mut locations = vec![("customerId", "1001"), ("active", "Any")];
    locations.extend(polled);
    let mut jobs = vec![("locationId", "2002")];
    jobs.extend(external);
    jobs.extend(polled);
    let export = [("from", "2026-01-01"), ("includeRecentChanges", "true")];
    let mut memberships = vec![("customerIds", "1001"), ("active", "Any")];
    memberships.extend(polled);
    vec![
        (CRM, "/customers", customers),
        (CRM, "/locations", locations),
        (CRM, "/locations/custom-fields", vec![]),
        (JPM, "/jobs", jobs),
        (
            JPM,
            "/appointments",
            [&polled[..], &[("active", "Any")]].concat(),
        ),
        (CRM, "/bookings", polled.to_vec()),
        (JPM, "/job-types", vec![ids]),
        (ACCOUNTING, "/invoices", polled.to_vec()),
        (MEMBERSHIPS, "/memberships", memberships),
        (
            MEMBERSHIPS,
            "/membership-types",
            vec![("active", "Any"), ids],
        ),
        (SETTINGS, "/business-units", vec![ids]),
        (SETTINGS, "/tag-types", vec![("active", "Any")]),
        (PRICEBOOK, "/services", vec![ids]),
        (MARKETING, "/campaigns", vec![ids]),
        // Export feeds: a token or date in `from`, and recent changes once caught up.
        (JPM, "/export/jobs", export.to_vec()),
        (JPM, "/export/appointments", export.to_vec()),
        (ACCOUNTING, "/export/invoices", export.to_vec()),
        (MEMBERSHIPS, "/export/memberships", export.to_vec()),
        (CRM, "/export/locations", export.to_vec()),
        (CRM, "/export/bookings", export.to_vec()),
    ]
}

#[test]
fn every_query_the_client_sends_is_documented() {
    let Some(specs) = specs() else { return };
    let mut failures = Vec::new();
    let paging = [("page", "1"), ("pageSize", "50")];
    // every paginated GET gets page and pageSize
    for (method, module, template) in ENDPOINTS.iter().filter(|e| e.0 == "GET") {
        let op = op(specs, method, module, template);
        let paginated = op
            .response_schema(200)
            .map(|s| specs.resolve(module, s))
            .is_some_and(|s| {
                // Export feeds also say `hasMore`, but page by `continueFrom`, not by page.
                s.pointer("/properties/hasMore").is_some()
                    && s.pointer("/properties/continueFrom").is_none()
            });
        if !paginated {
            continue;
        }
        let query: Vec<(String, String)> = paging
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        failures.extend(op.validate_query(&query).iter().map(ToString::to_string));
    }
    for (module, template, filters) in list_filters() {
        let op = op(specs, "GET", module, template);
        let query: Vec<(String, String)> = filters
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        failures.extend(op.validate_query(&query).iter().map(ToString::to_string));
    }
    assert!(
        failures.is_empty(),
        "{} query parameters the client sends are not documented:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Where a model sits in a response.
#[derive(Clone, Copy, Debug)]
enum Shape {
    /// The whole body.
    Whole,
    /// Each item of `data` of a paginated envelope, or of a bare array.
    Items,
}

/// Decodes `v` as the model; `Err` with serde's message and, for an object, the fields that fail
/// on their own (serde's `from_value` names no field; every response model is `#[serde(default)]`,
/// so a lone field decodes unless that field is the problem).
type Decode = fn(&Value) -> Result<(), String>;

fn decode<T: DeserializeOwned>(v: &Value) -> Result<(), String> {
    let attempt = |v: Value| serde_json::from_value::<T>(v).map(|_| ());
    let Err(first) = attempt(v.clone()) else {
        return Ok(());
    };
    let culprits: Vec<String> = v
        .as_object()
        .into_iter()
        .flatten()
        .filter_map(|(key, value)| {
            let alone = Value::Object([(key.clone(), value.clone())].into_iter().collect());
            attempt(alone).err().map(|e| format!("{key}: {e}"))
        })
        .collect();
    Err(if culprits.is_empty() {
        first.to_string()
    } else {
        culprits.join("; ")
    })
}

/// The JSON field names a derived `Deserialize` struct reads: serde hands them to
/// `deserialize_struct`, which this deserializer records before giving up.
fn field_names<T: DeserializeOwned>() -> Option<&'static [&'static str]> {
    use serde::de::{Error as _, Visitor, value::Error};
    struct Capture<'a>(&'a mut Option<&'static [&'static str]>);
    impl<'de> serde::Deserializer<'de> for Capture<'_> {
        type Error = Error;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Error> {
            Err(Error::custom("not a struct"))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Error> {
            *self.0 = Some(fields);
            Err(Error::custom("fields captured"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
            option unit unit_struct newtype_struct seq tuple tuple_struct map enum identifier
            ignored_any
        }
    }
    let mut fields = None;
    let _ = T::deserialize(Capture(&mut fields));
    fields
}

struct Row {
    model: &'static str,
    decode: Decode,
    fields: fn() -> Option<&'static [&'static str]>,
    method: &'static str,
    module: &'static str,
    template: &'static str,
    shape: Shape,
}

macro_rules! row {
    ($ty:ty, $method:literal, $module:expr, $template:literal, $shape:ident) => {
        Row {
            model: stringify!($ty),
            decode: decode::<$ty>,
            fields: field_names::<$ty>,
            method: $method,
            module: $module,
            template: $template,
            shape: Shape::$shape,
        }
    };
}

/// Every response the client decodes, with the model it decodes into.
fn response_rows() -> Vec<Row> {
    vec![
        row!(Page<Value>, "GET", CRM, "/customers", Whole),
        row!(Customer, "GET", CRM, "/customers", Items),
        row!(Customer, "GET", CRM, "/customers/{id}", Whole),
        row!(Customer, "POST", CRM, "/customers", Whole),
        row!(Customer, "PATCH", CRM, "/customers/{id}", Whole),
        row!(Contact, "GET", CRM, "/customers/{id}/contacts", Items),
        row!(Contact, "POST", CRM, "/customers/{id}/contacts", Whole),
        row!(
            CustomFieldType,
            "GET",
            CRM,
            "/customers/custom-fields",
            Items
        ),
        row!(
            CustomFieldType,
            "GET",
            CRM,
            "/locations/custom-fields",
            Items
        ),
        row!(Location, "GET", CRM, "/locations", Items),
        row!(Location, "GET", CRM, "/locations/{id}", Whole),
        row!(Location, "POST", CRM, "/locations", Whole),
        row!(Location, "PATCH", CRM, "/locations/{id}", Whole),
        row!(Booking, "GET", CRM, "/bookings", Items),
        row!(Booking, "GET", CRM, "/bookings/{id}", Whole),
        row!(Booking, "GET", CRM, "/booking-provider/{p}/bookings", Items),
        row!(
            Booking,
            "POST",
            CRM,
            "/booking-provider/{p}/bookings",
            Whole
        ),
        row!(
            Booking,
            "PATCH",
            CRM,
            "/booking-provider/{p}/bookings/{id}",
            Whole
        ),
        row!(Job, "GET", JPM, "/jobs", Items),
        row!(Job, "GET", JPM, "/jobs/{id}", Whole),
        row!(Job, "POST", JPM, "/jobs", Whole),
        row!(Job, "PATCH", JPM, "/jobs/{id}", Whole),
        row!(JobNote, "GET", JPM, "/jobs/{id}/notes", Items),
        row!(JobNote, "POST", JPM, "/jobs/{id}/notes", Whole),
        row!(JobType, "GET", JPM, "/job-types", Items),
        row!(Appointment, "GET", JPM, "/appointments", Items),
        row!(BusinessUnit, "GET", SETTINGS, "/business-units", Items),
        row!(TagType, "GET", SETTINGS, "/tag-types", Items),
        row!(Technician, "GET", SETTINGS, "/technicians", Items),
        row!(
            MembershipType,
            "GET",
            MEMBERSHIPS,
            "/membership-types",
            Items
        ),
        row!(
            DurationBillingItem,
            "GET",
            MEMBERSHIPS,
            "/membership-types/{id}/duration-billing-items",
            Items
        ),
        row!(
            Vec<DurationBillingItem>,
            "GET",
            MEMBERSHIPS,
            "/membership-types/{id}/duration-billing-items",
            Whole
        ),
        row!(
            CustomerMembership,
            "GET",
            MEMBERSHIPS,
            "/memberships",
            Items
        ),
        row!(
            CustomerMembership,
            "GET",
            MEMBERSHIPS,
            "/memberships/{id}",
            Whole
        ),
        row!(Created, "PATCH", MEMBERSHIPS, "/memberships/{id}", Whole),
        row!(
            MembershipSaleResult,
            "POST",
            MEMBERSHIPS,
            "/memberships/sale",
            Whole
        ),
        row!(CapacityResponse, "POST", DISPATCH, "/capacity", Whole),
        row!(ArrivalWindow, "GET", DISPATCH, "/arrival-windows", Items),
        row!(PricebookService, "GET", PRICEBOOK, "/services", Items),
        row!(Invoice, "GET", ACCOUNTING, "/invoices", Items),
        row!(Campaign, "GET", MARKETING, "/campaigns", Items),
    ]
}

/// The item schema of a paginated envelope or bare array.
fn item_schema<'a>(specs: &'a Specs, module: &str, schema: &'a Value) -> Option<&'a Value> {
    let resolved = specs.resolve(module, schema);
    resolved
        .pointer("/properties/data/items")
        .or_else(|| resolved.get("items"))
}

/// The items of a paginated or bare-array body.
fn items_of(body: &Value) -> Vec<Value> {
    body.get("data")
        .unwrap_or(body)
        .as_array()
        .cloned()
        .unwrap_or_default()
}

#[test]
fn every_response_model_decodes_what_the_spec_documents() {
    let Some(specs) = specs() else { return };
    let mut failures = Vec::new();
    let mut checked = 0;
    for row in response_rows() {
        let op = op(specs, row.method, row.module, row.template);
        let what = format!(
            "{} <- {} {} {}",
            row.model,
            op.id(),
            op.method(),
            op.template()
        );
        let Some(schema) = op.response_schema(200) else {
            failures.push(format!("{what}: the spec documents no 200 body"));
            continue;
        };
        let schema = match row.shape {
            Shape::Whole => schema,
            Shape::Items => match item_schema(specs, row.module, schema) {
                Some(items) => items,
                None => {
                    failures.push(format!(
                        "{what}: the 200 body is neither a page nor an array"
                    ));
                    continue;
                }
            },
        };
        let mut cases: Vec<(String, Value)> = Fill::ALL
            .iter()
            .map(|fill| {
                (
                    fill.name().to_owned(),
                    specs.instance(row.module, schema, *fill),
                )
            })
            .collect();
        if let Some(example) = op.response_example(200)
            && op.validate_response(200, example).is_empty()
        {
            match row.shape {
                Shape::Whole => cases.push(("spec example".into(), example.clone())),
                Shape::Items => cases.extend(
                    items_of(example)
                        .into_iter()
                        .map(|item| ("spec example".to_owned(), item)),
                ),
            }
        }
        for (which, instance) in cases {
            checked += 1;
            if let Err(e) = (row.decode)(&instance) {
                failures.push(format!("{what} ({which}): {e}"));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} decodes failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_field_a_response_model_reads_is_in_the_spec() {
    let Some(specs) = specs() else { return };
    let mut failures = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for row in response_rows() {
        let Some(fields) = (row.fields)() else {
            continue; // not a struct (Vec<…>)
        };
        let op = op(specs, row.method, row.module, row.template);
        let Some(mut schema) = op.response_schema(200) else {
            continue; // reported by the decode test
        };
        if let Shape::Items = row.shape {
            let Some(items) = item_schema(specs, row.module, schema) else {
                continue;
            };
            schema = items;
        }
        let name = schema
            .get("$ref")
            .and_then(Value::as_str)
            .unwrap_or("(inline)")
            .trim_start_matches("#/components/schemas/");
        if !seen.insert((row.model, name.to_owned())) {
            continue;
        }
        let resolved = specs.resolve(row.module, schema);
        let properties = resolved.get("properties").and_then(Value::as_object);
        let unknown: Vec<&str> = fields
            .iter()
            .filter(|f| !properties.is_some_and(|p| p.contains_key(**f)))
            .copied()
            .collect();
        if !unknown.is_empty() {
            failures.push(format!(
                "{} <- {} ({} {} {}): {} not in the spec",
                row.model,
                name,
                op.id(),
                op.method(),
                op.template(),
                unknown.join(", ")
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} response models read fields the spec does not document (they always decode to the \
         default):\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn at(h: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 4, h, 0, 0).unwrap()
}

fn address() -> Address {
    Address {
        street: "12 Oak St".into(),
        unit: Some("4B".into()),
        city: "Austin".into(),
        state: "TX".into(),
        zip: "78701".into(),
        country: "USA".into(),
    }
}

fn external() -> ExternalData {
    ExternalData::single("4a0a2e52-9a0b-4c55-8a34-6a9b1e0f5d21", "homeId", "home-123")
}

/// Every request body the client sends, with realistic values.
fn request_rows() -> Vec<(
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    Value,
)> {
    fn json<T: Serialize>(v: T) -> Value {
        serde_json::to_value(v).expect("serializes")
    }
    let contact = Contact::new("MobilePhone", "5125550100");
    let fields = vec![CustomFieldWrite::new(301, "120")];
    vec![
        (
            "NewCustomer",
            "POST",
            CRM,
            "/customers",
            json(NewCustomer {
                name: "Ada Lovelace".into(),
                kind: Some("Residential".into()),
                address: address(),
                locations: vec![NewCustomerLocation {
                    name: "Home".into(),
                    address: address(),
                    contacts: vec![contact.clone()],
                    custom_fields: fields.clone(),
                    external_data: Some(external()),
                }],
                contacts: vec![Contact::new("Email", "ada@example.com")],
                custom_fields: fields.clone(),
                tag_type_ids: vec![11],
                do_not_mail: false,
                do_not_service: false,
                external_data: Some(external()),
            }),
        ),
        (
            "CustomerPatch",
            "PATCH",
            CRM,
            "/customers/{id}",
            json(CustomerPatch {
                name: Some("Ada King".into()),
                custom_fields: Some(fields.clone()),
                tag_type_ids: Some(vec![11, 12]),
                external_data: Some(external()),
            }),
        ),
        (
            "Contact",
            "POST",
            CRM,
            "/customers/{id}/contacts",
            json(&contact),
        ),
        (
            "NewLocation",
            "POST",
            CRM,
            "/locations",
            json(NewLocation {
                customer_id: 1001,
                name: "Lake house".into(),
                address: address(),
                contacts: vec![contact.clone()],
                custom_fields: fields.clone(),
                tag_type_ids: vec![11],
                external_data: Some(external()),
            }),
        ),
        (
            "LocationPatch",
            "PATCH",
            CRM,
            "/locations/{id}",
            json(LocationPatch {
                name: Some("Home".into()),
                address: Some(address()),
                custom_fields: Some(fields.clone()),
                tag_type_ids: Some(vec![11]),
                external_data: Some(external()),
            }),
        ),
        (
            "NewBooking",
            "POST",
            CRM,
            "/booking-provider/{p}/bookings",
            json(NewBooking {
                source: "SmartAC.com".into(),
                name: "Ada Lovelace".into(),
                summary: "AC not cooling (SmartAC.com)".into(),
                address: address(),
                contacts: vec![contact.clone()],
                customer_type: "Residential".into(),
                start: Some(at(15)),
                is_first_time_client: true,
                external_id: "booking-42".into(),
                campaign_id: Some(71),
                business_unit_id: Some(5),
                job_type_id: Some(9),
                priority: Some("Normal".into()),
                is_send_confirmation_email: false,
            }),
        ),
        (
            "BookingPatch",
            "PATCH",
            CRM,
            "/booking-provider/{p}/bookings/{id}",
            json(BookingPatch {
                summary: Some("Rescheduled".into()),
                start: Some(at(16)),
                business_unit_id: Some(5),
                job_type_id: Some(9),
            }),
        ),
        (
            "NewJob",
            "POST",
            JPM,
            "/jobs",
            json(NewJob {
                customer_id: 1001,
                location_id: 2002,
                business_unit_id: 5,
                job_type_id: 9,
                priority: "Normal".into(),
                campaign_id: 71,
                appointments: vec![JobAppointmentInput {
                    start: at(15),
                    end: at(17),
                    arrival_window_start: Some(at(15)),
                    arrival_window_end: Some(at(16)),
                    technician_ids: vec![31],
                }],
                summary: Some("Seasonal tune-up".into()),
                tag_type_ids: vec![11],
                custom_fields: fields.clone(),
                external_data: Some(external()),
            }),
        ),
        (
            "JobPatch",
            "PATCH",
            JPM,
            "/jobs/{id}",
            json(JobPatch {
                tag_type_ids: Some(vec![11, 12]),
                summary: Some("Seasonal tune-up".into()),
                priority: Some("High".into()),
                custom_fields: Some(fields.clone()),
            }),
        ),
        (
            "NewNote",
            "POST",
            JPM,
            "/jobs/{id}/notes",
            json(NewNote {
                text: "Filter replaced [tb:note:7]".into(),
                pin_to_top: false,
            }),
        ),
        (
            "MembershipSale",
            "POST",
            MEMBERSHIPS,
            "/memberships/sale",
            json(MembershipSale {
                customer_id: 1001,
                business_unit_id: 5,
                sale_task_id: 88,
                duration_billing_id: 401,
                location_id: Some(2002),
                recurring_service_action: "Single".into(),
                recurring_location_id: Some(2002),
            }),
        ),
        (
            "MembershipPatch",
            "PATCH",
            MEMBERSHIPS,
            "/memberships/{id}",
            json(MembershipPatch {
                status: Some("Canceled".into()),
                to: Some(at(0)),
                memo: Some("Cancelled by the homeowner".into()),
            }),
        ),
        (
            "CapacityRequest",
            "POST",
            DISPATCH,
            "/capacity",
            json(CapacityRequest {
                starts_on_or_after: at(0),
                ends_on_or_before: at(0) + chrono::Duration::days(7),
                business_unit_ids: vec![5],
                job_type_id: Some(9),
                skill_based_availability: true,
            }),
        ),
    ]
}

#[test]
fn every_request_body_the_client_sends_validates() {
    let Some(specs) = specs() else { return };
    let mut failures = Vec::new();
    let rows = request_rows();
    for (model, method, module, template, body) in &rows {
        let op = op(specs, method, module, template);
        for v in op.validate_request_body(Some(body)) {
            failures.push(format!("{model}: {v}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} violations in {} request bodies:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}

/// The child half of `the_report_file_gets_a_tally_line_at_exit`: records only when asked to.
#[test]
fn report_child_records() {
    if std::env::var_os("TITANBRIDGE_CONTRACT_REPORT_CHILD").is_none() {
        return;
    }
    tally::record_request();
    tally::record_response();
    tally::record_response();
    tally::record_violation(&titanbridge::contract::Violation {
        operation: "Jobs_Get".into(),
        method: "GET".into(),
        template: "/jobs/{id}".into(),
        direction: titanbridge::contract::Direction::Response,
        instance_path: "/jobStatus".into(),
        rule: "type: 1 is not of type \"string\"".into(),
    });
    // one exchange through the sandbox's entry point: counted, its violation recorded
    if let Some(specs) = Specs::global() {
        let v = specs.record_exchange(&titanbridge::contract::Exchange {
            method: "DELETE",
            module: CRM,
            path: "/customers/1/tags/2",
            query: &[],
            request_body: None,
            status: 200,
            response_body: &serde_json::json!({"ok": true}),
        });
        assert_eq!(v.len(), 1);
    }
    let (requests, responses, violations) = tally::snapshot();
    let exchanged = u64::from(Specs::global().is_some());
    assert_eq!(
        (requests, responses, violations.len() as u64),
        (1 + exchanged, 2 + exchanged, 1 + exchanged)
    );
}

#[test]
fn the_report_file_gets_a_tally_line_at_exit() {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("contract.report");
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "contract::report_child_records",
            "--test-threads=1",
        ])
        .env("TITANBRIDGE_CONTRACT_REPORT", &report)
        .env("TITANBRIDGE_CONTRACT_REPORT_CHILD", "1")
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let text = std::fs::read_to_string(&report).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "violation Jobs_Get GET /jobs/{id} response /jobStatus: type: 1 is not of type \"string\""
    );
    if Specs::global().is_some() {
        assert_eq!(lines.len(), 3, "{text}");
        assert_eq!(
            lines[1],
            "violation Customers_DeleteTag DELETE /customers/{id}/tags/{tagTypeId} response \
             (root): content: the spec documents no body for status 200"
        );
        assert_eq!(lines[2], "tally 2 3");
    } else {
        assert_eq!(lines[1..], ["tally 1 2"]);
    }
}
