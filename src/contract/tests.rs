//! Unit tests against the real spec files; skipped (with a message) when they are absent.
use serde_json::{Value, json};

use super::*;

fn specs() -> Option<&'static Specs> {
    let specs = Specs::global();
    if specs.is_none() {
        eprintln!("skipped: ServiceTitan OpenAPI specs not found (set {OPENAPI_DIR_ENV})");
    }
    specs
}

fn customer_get(specs: &Specs) -> Operation<'_> {
    specs
        .operation("GET", "crm", "/customers/123")
        .expect("GET /customers/{id}")
}

#[test]
fn loads_the_ten_modules() {
    let Some(specs) = specs() else { return };
    let modules: Vec<&str> = specs.modules().collect();
    assert_eq!(
        modules,
        [
            "accounting",
            "crm",
            "dispatch",
            "jbce",
            "jpm",
            "marketing",
            "memberships",
            "pricebook",
            "schedulingpro",
            "settings"
        ]
    );
    assert!(specs.operations().count() > 300);
}

#[test]
fn literal_segments_beat_parameters() {
    let Some(specs) = specs() else { return };
    let op = specs
        .operation("GET", "crm", "/customers/custom-fields")
        .unwrap();
    assert_eq!(op.template(), "/customers/custom-fields");
    assert_eq!(op.id(), "Customers_GetCustomFieldTypes");
    let op = customer_get(specs);
    assert_eq!(op.template(), "/customers/{id}");
    assert_eq!(op.id(), "Customers_Get");
    let op = specs
        .operation("post", "crm", "/customers/123/tags/5?x=1")
        .unwrap();
    assert_eq!(op.template(), "/customers/{id}/tags/{tagTypeId}");
    assert_eq!(op.method(), "POST");
}

#[test]
fn unknown_paths_methods_and_modules_find_nothing() {
    let Some(specs) = specs() else { return };
    assert!(specs.operation("GET", "crm", "/no-such-thing").is_none());
    assert!(
        specs
            .operation("GET", "crm", "/customers/1/2/3/4")
            .is_none()
    );
    assert!(specs.operation("PUT", "crm", "/customers/1").is_none());
    assert!(specs.operation("GET", "nomodule", "/customers").is_none());
    assert!(
        specs
            .operation_by_template("GET", "crm", "/customers/{customerId}")
            .is_some_and(|op| op.id() == "Customers_Get")
    );
    assert!(
        specs
            .operation_by_template("GET", "crm", "/customers/x")
            .is_none()
    );
}

fn good_customer() -> Value {
    json!({
        "id": 1, "active": true, "name": "Ada", "type": "Residential",
        "address": {"street": "1 Main", "city": "Austin", "state": "TX", "zip": "78701",
                    "country": "USA"},
        "customFields": [], "balance": 0, "taxExempt": false, "tagTypeIds": [5],
        "doNotMail": false, "doNotService": false, "nationalAccount": false,
        "createdOn": "2024-05-01T10:00:00Z", "createdById": 7,
        "modifiedOn": "2024-05-01T10:00:00.5316667Z",
        "mergedToId": null,
        "externalData": [{"key": "k", "value": "v"}]
    })
}

#[test]
fn a_valid_customer_passes_and_a_bad_one_names_the_field() {
    let Some(specs) = specs() else { return };
    let op = customer_get(specs);
    let good = good_customer();
    assert_eq!(op.validate_response(200, &good), []);

    let mut bad = good.clone();
    bad["externalData"] = json!({"applicationGuid": "g", "externalData": []});
    let v = op.validate_response(200, &bad);
    assert_eq!(v.len(), 1, "{v:?}");
    assert_eq!(v[0].instance_path, "/externalData");
    assert!(v[0].rule.starts_with("type: "), "{}", v[0].rule);
    assert_eq!(v[0].direction, Direction::Response);
    let line = v[0].to_string();
    assert!(
        line.starts_with("Customers_Get GET /customers/{id} response /externalData: type: "),
        "{line}"
    );

    let mut bad = good;
    bad["createdOn"] = json!("2024-05-01T10:00:00"); // no offset: not RFC 3339
    bad["tagTypeIds"] = json!(["5"]);
    bad.as_object_mut().unwrap().remove("name");
    let mut paths: Vec<String> = op
        .validate_response(200, &bad)
        .into_iter()
        .map(|v| format!("{} {}", v.instance_path, v.rule.split(':').next().unwrap()))
        .collect();
    paths.sort();
    assert_eq!(
        paths,
        [" required", "/createdOn format", "/tagTypeIds/0 type"]
    );
}

#[test]
fn statuses_are_checked_against_the_documented_responses() {
    let Some(specs) = specs() else { return };
    let op = customer_get(specs);
    let error = json!({"type": "t", "title": "Not found", "status": 404, "traceId": "x",
                       "errors": {}, "data": {}});
    assert_eq!(op.validate_response(404, &error), []);
    // 429 is not documented: the module's ApiErrorResponse applies
    assert_eq!(op.validate_response(429, &error), []);
    let v = op.validate_response(429, &json!({"message": "slow down"}));
    assert!(v.iter().any(|v| v.rule.starts_with("required")), "{v:?}");
    assert!(
        v.iter().any(|v| v.rule.starts_with("additionalProperties")),
        "{v:?}"
    );
    // an undocumented success status is a violation
    let v = op.validate_response(201, &good_customer());
    assert_eq!(v.len(), 1);
    assert!(v[0].rule.starts_with("responses: status 201"), "{}", v[0]);
    // no body documented for this DELETE's 200
    let delete = specs
        .operation("DELETE", "crm", "/customers/1/contacts/2")
        .unwrap();
    assert_eq!(delete.validate_response(200, &Value::Null), []);
    assert_eq!(delete.validate_response(200, &json!({})).len(), 1);
}

#[test]
fn request_bodies_are_checked() {
    let Some(specs) = specs() else { return };
    let create = specs.operation("POST", "crm", "/customers").unwrap();
    assert!(create.request_body_required());
    let v = create.validate_request_body(None);
    assert_eq!(v.len(), 1);
    assert_eq!(v[0].direction, Direction::Request);
    let v = create.validate_request_body(Some(&json!({"name": 5})));
    assert!(v.iter().any(|v| v.instance_path == "/name"), "{v:?}");
    let body = specs.instance("crm", create.request_schema().unwrap(), Fill::RequiredOnly);
    assert_eq!(create.validate_request_body(Some(&body)), []);
    let get = customer_get(specs);
    assert_eq!(get.validate_request_body(None), []);
    assert_eq!(get.validate_request_body(Some(&json!({}))).len(), 1);
}

#[test]
fn query_strings_are_checked() {
    let Some(specs) = specs() else { return };
    let list = specs.operation("GET", "crm", "/customers").unwrap();
    let q = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };
    let ok = q(&[
        ("page", "2"),
        ("pageSize", "50"),
        ("includeTotal", "true"),
        ("active", "Any"),
        ("modifiedOnOrAfter", "2024-05-01T10:00:00Z"),
        ("ids", "1,2,3"),
    ]);
    assert_eq!(list.validate_query(&ok), []);
    let bad = q(&[
        ("page", "two"),
        ("includeTotal", "yes"),
        ("active", "Sometimes"),
        ("modifiedOnOrAfter", "yesterday"),
        ("customerId", "5"),
    ]);
    let mut found: Vec<String> = list
        .validate_query(&bad)
        .into_iter()
        .map(|v| format!("{} {}", v.instance_path, v.rule.split(':').next().unwrap()))
        .collect();
    found.sort();
    assert_eq!(
        found,
        [
            "active enum",
            "customerId parameters",
            "includeTotal type",
            "modifiedOnOrAfter format",
            "page type"
        ]
    );
}

#[test]
fn violations_display_on_one_line() {
    let v = Violation {
        operation: "Jobs_Get".into(),
        method: "GET".into(),
        template: "/jobs/{id}".into(),
        direction: Direction::Response,
        instance_path: String::new(),
        rule: "required: \"id\" is a required property".into(),
    };
    assert_eq!(
        v.to_string(),
        "Jobs_Get GET /jobs/{id} response (root): required: \"id\" is a required property"
    );
}

#[test]
fn generated_instances_of_every_schema_validate() {
    let Some(specs) = specs() else { return };
    let mut failures = Vec::new();
    let mut checked = 0;
    for module in specs.modules() {
        let doc = specs.document(module).unwrap();
        let schemas = doc["components"]["schemas"].as_object().unwrap();
        for name in schemas.keys() {
            let reference = json!({ "$ref": format!("#/components/schemas/{name}") });
            for (fill, instance) in Fill::ALL.iter().zip(specs.instances(module, &reference)) {
                checked += 1;
                for (path, rule) in specs.validate_component(module, name, &instance) {
                    failures.push(format!("{module} {name} ({}) {path}: {rule}", fill.name()));
                }
            }
        }
    }
    assert!(checked > 2000, "only {checked} instances");
    assert!(
        failures.is_empty(),
        "{} of {checked} generated instances are invalid:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn generated_instances_follow_the_fill_rules() {
    let Some(specs) = specs() else { return };
    let reference = json!({"$ref": "#/components/schemas/Crm.V2.Customers.CustomerResponse"});
    let [full, nulls, required] = &specs.instances("crm", &reference)[..] else {
        panic!("three instances")
    };
    assert_eq!(full["mergedToId"], json!(1)); // nullable, filled
    assert_eq!(full["type"], json!("Residential")); // first enum value
    assert_eq!(full["createdOn"], json!("2024-05-01T10:00:00Z"));
    assert_eq!(full["externalData"].as_array().map(Vec::len), Some(1));
    assert_eq!(nulls["mergedToId"], Value::Null); // nullable: present and null
    assert!(required.get("mergedToId").is_none()); // optional: absent
    assert!(nulls.get("paymentTermId").is_some_and(Value::is_null));
    assert!(nulls["externalData"].is_array()); // required, not nullable
    assert_eq!(required["tagTypeIds"], json!([1]));
    let decimal = json!({"type": ["string", "null"], "format": "decimal"});
    assert_eq!(
        specs.instance("accounting", &decimal, Fill::Full),
        json!("12.50")
    );
    let bounded = json!({"type": "integer", "minimum": 5});
    assert_eq!(specs.instance("crm", &bounded, Fill::Full), json!(5));
}

#[test]
fn a_whole_exchange_is_checked() {
    // `check_exchange`, not `record_exchange`: these deliberate violations must not reach the
    // suite's report file (tests/contract.rs checks recording in a child process)
    let Some(specs) = specs() else { return };
    let query = [("pageSize".to_owned(), "lots".to_owned())];
    let body = json!({"page": 1, "pageSize": 50, "hasMore": false, "data": [{"id": "1"}]});
    let v = specs.check_exchange(&Exchange {
        method: "get",
        module: "crm",
        path: "/customers",
        query: &query,
        request_body: None,
        status: 200,
        response_body: &body,
    });
    let found: Vec<(Direction, &str)> = v
        .iter()
        .filter(|v| !v.rule.starts_with("required"))
        .map(|v| (v.direction, v.instance_path.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            (Direction::Query, "pageSize"),
            (Direction::Response, "/data/0/id")
        ]
    );
    let unknown = specs.check_exchange(&Exchange {
        method: "GET",
        module: "crm",
        path: "/nowhere",
        query: &[],
        request_body: None,
        status: 404,
        response_body: &Value::Null,
    });
    assert_eq!(unknown.len(), 1);
    assert_eq!(
        unknown[0].to_string(),
        "(no operation) GET /nowhere request (root): paths: the crm spec has no GET /nowhere"
    );
}
