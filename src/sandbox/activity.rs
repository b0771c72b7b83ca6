//! Things that happen inside ServiceTitan without us: jobs completing, invoices, bulk data.
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::routes::jpm::{NewJobFields, insert_job};
use super::state::SandboxState;
use super::tenant::{Tenant, id_of, now, res};

/// What [`SandboxState::generate_activity`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ActivityReport {
    /// Jobs moved to `Completed`.
    pub completed_job_ids: Vec<i64>,
    /// Invoices created for them.
    pub invoice_ids: Vec<i64>,
}

/// One invoice line for [`SandboxState::add_invoice`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InvoiceLine {
    /// Pricebook SKU ID.
    pub sku_id: i64,
    /// `Service`, `Material`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// Quantity.
    pub quantity: f64,
    /// Unit price.
    pub price: f64,
}

fn sku_name(t: &Tenant, sku: i64) -> (String, Value) {
    if let Some(s) = t.get(res::SERVICES, sku) {
        return (
            s["displayName"].as_str().unwrap_or_default().to_owned(),
            s["code"].clone(),
        );
    }
    t.materials
        .iter()
        .find(|m| id_of(m) == sku)
        .map(|m| {
            (
                m["displayName"].as_str().unwrap_or_default().to_owned(),
                m["code"].clone(),
            )
        })
        .unwrap_or_else(|| (format!("SKU {sku}"), Value::Null))
}

/// A decimal as the accounting module writes it: a string with two places.
fn money(v: f64) -> String {
    format!("{v:.2}")
}

fn invoice_for(t: &mut Tenant, job_id: i64, lines: &[InvoiceLine]) -> Option<i64> {
    let job = t.get(res::JOBS, job_id)?.clone();
    let customer = t.get(res::CUSTOMERS, job["customerId"].as_i64()?).cloned();
    let location = t.get(res::LOCATIONS, job["locationId"].as_i64()?).cloned();
    let job_type = job["jobTypeId"]
        .as_i64()
        .and_then(|j| t.get(res::JOB_TYPES, j))
        .map(|j| j["name"].clone());
    let stamp = now();
    let mut items = Vec::new();
    let mut total = 0.0;
    for line in lines {
        let (name, code) = sku_name(t, line.sku_id);
        let line_total = line.quantity * line.price;
        total += line_total;
        // Money and quantities are decimal strings in ServiceTitan's accounting module.
        items.push(json!({
            "id": t.new_id(), "skuId": line.sku_id, "skuName": name, "_code": code,
            "type": line.kind, "quantity": money(line.quantity), "price": money(line.price),
            "total": money(line_total), "description": name, "displayName": name,
            "membershipTypeId": 0, "inventory": false, "taxable": false, "isChargeable": true,
            "addOn": false, "order": items.len() + 1, "createdOn": stamp, "modifiedOn": stamp,
        }));
    }
    // Every job has one invoice: the one reserved when the job was created.
    let iid = job["invoiceId"].as_i64().unwrap_or_else(|| t.new_id());
    let invoice = json!({
        "id": iid, "referenceNumber": format!("INV-{iid}"), "invoiceDate": stamp,
        "subTotal": money(total), "salesTax": money(0.0),
        "total": money(total), "balance": money(total),
        "customer": customer.map(|c| json!({"id": c["id"], "name": c["name"]})),
        "location": location.map(|l| json!({"id": l["id"], "name": l["name"]})),
        "job": {"id": job_id, "number": job["jobNumber"], "type": job_type},
        "_jobId": job_id, "items": items, "active": true, "sentStatus": "NotSent",
        "reviewStatus": "NeedsReview", "invoiceConfiguration": "JobInvoice",
        "createdOn": stamp, "modifiedOn": stamp,
    });
    t.coll(res::INVOICES).insert(iid, invoice);
    Some(iid)
}

fn set_status(t: &mut Tenant, job_id: i64, status: &str) -> bool {
    let stamp = now();
    let appt_status = match status {
        "Completed" => "Done",
        "Canceled" => "Canceled",
        "InProgress" => "Working",
        "Hold" => "Hold",
        "Dispatched" => "Dispatched",
        _ => "Scheduled",
    };
    let Some(job) = t.coll(res::JOBS).get_mut(&job_id) else {
        return false;
    };
    job["jobStatus"] = json!(status);
    job["completedOn"] = if status == "Completed" {
        json!(stamp)
    } else {
        Value::Null
    };
    job["modifiedOn"] = json!(stamp);
    for a in t.coll(res::APPOINTMENTS).values_mut() {
        if a["jobId"].as_i64() == Some(job_id) {
            a["status"] = json!(appt_status);
            a["modifiedOn"] = json!(stamp);
        }
    }
    true
}

impl SandboxState {
    /// Completes up to `complete_jobs` open jobs (oldest first) and invoices each with one
    /// `Service` line (an active pricebook service, rotating) and one `Material` line.
    pub fn generate_activity(
        &self,
        tenant_id: i64,
        complete_jobs: usize,
    ) -> Option<ActivityReport> {
        self.with_tenant(tenant_id, |t| {
            let open: Vec<i64> = t
                .coll(res::JOBS)
                .values()
                .filter(|j| {
                    matches!(
                        j["jobStatus"].as_str(),
                        Some("Scheduled" | "Dispatched" | "InProgress")
                    )
                })
                .map(id_of)
                .take(complete_jobs)
                .collect();
            let services: Vec<(i64, f64)> = t
                .coll(res::SERVICES)
                .values()
                .filter(|s| s["active"] == json!(true))
                .map(|s| (id_of(s), s["price"].as_f64().unwrap_or(0.0)))
                .collect();
            let material = t
                .materials
                .first()
                .map(|m| (id_of(m), m["price"].as_f64().unwrap_or(0.0)));
            let mut report = ActivityReport::default();
            for (i, job_id) in open.into_iter().enumerate() {
                set_status(t, job_id, "Completed");
                report.completed_job_ids.push(job_id);
                let mut lines = Vec::new();
                if !services.is_empty() {
                    let (sku, price) = services[i % services.len()];
                    lines.push(InvoiceLine {
                        sku_id: sku,
                        kind: "Service".into(),
                        quantity: 1.0,
                        price,
                    });
                }
                if let Some((sku, price)) = material {
                    lines.push(InvoiceLine {
                        sku_id: sku,
                        kind: "Material".into(),
                        quantity: 2.0,
                        price,
                    });
                }
                if let Some(iid) = invoice_for(t, job_id, &lines) {
                    report.invoice_ids.push(iid);
                }
            }
            report
        })
    }

    /// Adds an invoice with exactly these lines to a job; `None` if tenant or job is unknown.
    pub fn add_invoice(&self, tenant_id: i64, job_id: i64, lines: &[InvoiceLine]) -> Option<i64> {
        self.with_tenant(tenant_id, |t| invoice_for(t, job_id, lines))
            .flatten()
    }

    /// Sets a job's status (and its appointments'), bumping `modifiedOn`.
    pub fn set_job_status(&self, tenant_id: i64, job_id: i64, status: &str) -> bool {
        self.with_tenant(tenant_id, |t| set_status(t, job_id, status))
            .unwrap_or(false)
    }

    /// Adds `n` jobs (no appointments) on the tenant's first customer, for paging and benches.
    pub fn seed_bulk_jobs(&self, tenant_id: i64, n: usize) -> Option<usize> {
        self.with_tenant(tenant_id, |t| {
            let loc = t.coll(res::LOCATIONS).values().next().cloned()?;
            let (cid, lid) = (loc["customerId"].as_i64()?, id_of(&loc));
            const STATUSES: [&str; 4] = ["Scheduled", "Dispatched", "Completed", "Canceled"];
            for i in 0..n {
                let fields = NewJobFields {
                    customer_id: cid,
                    location_id: lid,
                    business_unit_id: 1001,
                    job_type_id: 2001,
                    campaign_id: 8001,
                    priority: "Normal".into(),
                    summary: json!(format!("Bulk job {i}")),
                    tag_type_ids: Vec::new(),
                    custom_fields: json!([]),
                    external_data: Value::Null,
                    status: STATUSES[i % STATUSES.len()].into(),
                };
                insert_job(t, fields, &[]);
            }
            Some(n)
        })
        .flatten()
    }

    /// Adds `job_types` job types and `services` pricebook services (every tenth inactive).
    pub fn seed_large_catalog(&self, tenant_id: i64, job_types: usize, services: usize) -> bool {
        self.with_tenant(tenant_id, |t| {
            let units: Vec<i64> = t.coll(res::BUSINESS_UNITS).keys().copied().collect();
            let stamp = now();
            for i in 0..job_types {
                let id = t.new_id();
                let bus: Vec<i64> = units.iter().copied().skip(i % units.len().max(1)).take(2).collect();
                let row = json!({
                    "id": id, "name": format!("Generated Job Type {i:04}"), "businessUnitIds": bus,
                    "skills": [], "tagTypeIds": [], "priority": "Normal", "duration": 3600,
                    "active": i % 10 != 9, "createdOn": stamp, "modifiedOn": stamp,
                });
                let mut row = row;
                super::tenant::complete(res::JOB_TYPES, &mut row);
                t.coll(res::JOB_TYPES).insert(id, row);
            }
            for i in 0..services {
                let id = t.new_id();
                let row = json!({
                    "id": id, "code": format!("GEN-{i:05}"), "displayName": format!("Generated Service {i:05}"),
                    "description": "Generated for catalogue tests", "price": 50.0 + (i % 200) as f64,
                    "memberPrice": 40.0, "active": i % 10 != 9,
                    "categories": [{"id": 7901, "name": "Maintenance"}],
                    "createdOn": stamp, "modifiedOn": stamp,
                });
                let mut row = row;
                super::tenant::complete(res::SERVICES, &mut row);
                t.coll(res::SERVICES).insert(id, row);
            }
        })
        .is_some()
    }
}
